"""Workers never outlive their scheduler (docs/semantics.md#workers-and-daisy_context).

Real processes: a scheduler run in a subprocess is killed with SIGKILL while its forked
workers wait for the handshake, for a block, or sleep in a block; every worker is gone
within seconds and the port no longer listens. Forked workers hold none of the server's
descriptors. ``daisy.Client()`` outside a worker says what is missing.
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import daisy
from daisy import Roi

# How long the workers of a killed scheduler may take to go.
EXIT_BOUND = 5.0

SCHEDULER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    import daisy
    from daisy import Roi

    out = Path(sys.argv[1])
    mode = sys.argv[2]

    def worker():
        me = out / f"worker-{os.getpid()}"
        me.write_text(os.environ["DAISY_CONTEXT"])
        if mode == "handshake":
            while not (out / "connect").exists():
                time.sleep(0.01)
        client = daisy.Client()
        (out / f"connected-{os.getpid()}").touch()
        while True:
            with client.acquire_block() as block:
                if block is None:
                    break
                process(block)

    def process(block):
        if block.block_id[1] == 0:
            (out / "sleeping").touch()
            time.sleep(120)
        (out / f"done-{block.block_id[1]}").touch()

    def busy_init(context):
        (out / "busy").touch()
        time.sleep(120)

    roi = Roi((0,), (3,))
    one = Roi((0,), (1,))
    if mode == "handshake":
        workers = daisy.Task("B", roi, one, one, worker, num_workers=3)
        busy = daisy.Task("A", roi, one, one, lambda b: None, num_workers=1,
                          init_callback_fn=busy_init)
        tasks = [workers, busy]
    else:
        tasks = [daisy.Task("B", roi, one, one, worker, num_workers=3)]
    daisy.run_blockwise(tasks)
    """
)


def _wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie nobody reaped counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _worker_pids(out: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in out.glob("worker-*")]


def _port_of(out: Path) -> int:
    context = next(out.glob("worker-*")).read_text()
    items = dict(item.split("=", 1) for item in context.split(":") if "=" in item)
    return int(items["port"])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _established_to(port: int) -> int:
    """How many TCP connections to ``port`` on loopback are established (from either end's
    table line whose remote port is ``port``)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[3] == "01":
            count += 1
    return count


def _start_scheduler(tmp_path: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", SCHEDULER, str(tmp_path), mode],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _kill_and_time_the_workers(scheduler: subprocess.Popen, out: Path) -> float:
    """SIGKILLs the scheduler; returns the seconds until its last worker is gone."""
    pids = _worker_pids(out)
    port = _port_of(out)
    killed = time.monotonic()
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait()
    try:
        _wait_for(lambda: not any(_alive(p) for p in pids), EXIT_BOUND, "the workers to exit")
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    took = time.monotonic() - killed
    assert not _listening(port), f"port {port} still listens after the scheduler was killed"
    return took


def _worker_logs(out: Path) -> str:
    return "".join(p.read_text() for p in (out / "daisy_logs" / "B").glob("worker_*.err"))


def test_workers_exit_when_scheduler_killed_during_handshake(tmp_path):
    scheduler = _start_scheduler(tmp_path, "handshake")
    try:
        _wait_for(lambda: len(_worker_pids(tmp_path)) == 3, 30, "three forked workers")
        _wait_for(lambda: (tmp_path / "busy").exists(), 30, "the busy init callback")
        # A server too busy to answer: stopped, it still completes connections (backlog)
        # but never replies to a Hello.
        scheduler.send_signal(signal.SIGSTOP)
        (tmp_path / "connect").touch()
        port = _port_of(tmp_path)
        _wait_for(lambda: _established_to(port) >= 3, 30, "three workers in the handshake")
        took = _kill_and_time_the_workers(scheduler, tmp_path)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert took < EXIT_BOUND
    logs = _worker_logs(tmp_path)
    assert "daisy: worker" in logs, logs
    assert "127.0.0.1:" in logs, logs


def test_workers_exit_when_scheduler_killed_mid_run(tmp_path):
    # Worker of block 0 sleeps inside the block; the others wait in acquire for a block
    # that will never come (the server keeps their requests while block 0 is processing).
    scheduler = _start_scheduler(tmp_path, "acquire")
    try:
        _wait_for(
            lambda: (
                (tmp_path / "sleeping").exists()
                and (tmp_path / "done-1").exists()
                and (tmp_path / "done-2").exists()
            ),
            30,
            "block 0 sleeping and blocks 1 and 2 done",
        )
        _wait_for(lambda: len(list(tmp_path.glob("connected-*"))) == 3, 30, "three clients")
        took = _kill_and_time_the_workers(scheduler, tmp_path)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
    assert took < EXIT_BOUND
    logs = _worker_logs(tmp_path)
    assert "127.0.0.1:" in logs, logs


def _descriptors(pid: int | str) -> dict[int, str]:
    found = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            found[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            pass
    return found


def test_forked_workers_hold_no_server_descriptors(in_tmp_dir):
    tmp_path = in_tmp_dir
    shared = open(tmp_path / "shared.log", "a")  # a file of the user's, opened before the run
    report = tmp_path / "report"
    report.mkdir()

    def worker():
        # Before the worker's own client exists: what it inherited.
        mine = _descriptors("self")
        server = _descriptors(os.getppid())
        os.write(shared.fileno(), f"worker {os.getpid()} can still write here\n".encode())
        (report / str(os.getpid())).write_text(repr((mine, server)))
        client = daisy.Client()
        while True:
            with client.acquire_block() as block:
                if block is None:
                    break

    task = daisy.Task(
        "fds", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), worker, num_workers=2
    )
    try:
        assert daisy.run_blockwise([task])
    finally:
        shared.close()
    reports = [ast.literal_eval(p.read_text()) for p in report.iterdir()]
    assert reports, "no worker reported"
    for mine, server in reports:
        server_sockets = {target for target in server.values() if target.startswith("socket:")}
        assert server_sockets, server
        held = {fd: target for fd, target in mine.items() if target in server_sockets}
        assert not held, f"a worker holds server sockets {held}; all: {mine}"
        anon = {fd: target for fd, target in mine.items() if target.startswith("anon_inode:")}
        assert not anon, f"a worker holds the server's event loop descriptors {anon}"
    written = (tmp_path / "shared.log").read_text().splitlines()
    assert len(written) == len(reports)


def test_client_outside_a_worker_says_what_is_missing(monkeypatch):
    monkeypatch.delenv("DAISY_CONTEXT", raising=False)
    with pytest.raises(daisy.ContextError) as raised:
        daisy.Client()
    assert isinstance(raised.value, KeyError), "daisy 1.x raised a KeyError here"
    assert isinstance(raised.value, daisy.MissingContextError)
    message = str(raised.value)
    assert "DAISY_CONTEXT" in message
    assert "started by the daisy server" in message
    assert "daisy.Client(daisy.Context(" in message


def test_client_of_a_server_that_is_gone_fails_fast_naming_it():
    with socket.socket() as gone:
        gone.bind(("127.0.0.1", 0))
        port = gone.getsockname()[1]
    context = daisy.Context(hostname="127.0.0.1", port=port, task_id="A", worker_id=0, token="t")
    started = time.monotonic()
    with pytest.raises(daisy.ClientError, match=f"127.0.0.1:{port}"):
        daisy.Client(context)
    assert time.monotonic() - started < 2
