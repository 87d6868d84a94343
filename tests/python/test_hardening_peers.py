"""Peers that never complete the handshake cannot take a run down: a flood of idle
connections to the server's port, kept up for the whole run, leaves descriptors for the
workers that replace dead ones, and the run succeeds."""

import os
import resource
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

FLOOD = 1100
BLOCKS = 12
DEATHS = 4

# Runs in a subprocess whose descriptor limit is lowered to 1,024 (soft only, or soft and
# hard): every worker waits for the flood, then the first DEATHS blocks each kill their
# worker once, so replacement workers (and their log files) must start while it lasts.
RUN = textwrap.dedent(
    f"""
    import os, resource, sys, time
    import daisy
    from daisy import Roi

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024 if sys.argv[1] == "hard" else hard))
    here = os.getcwd()

    def process(block):
        port = os.path.join(here, "port")
        if not os.path.exists(port):
            with open(port + ".tmp", "w") as f:
                f.write(str(daisy.Context.from_env()["port"]))
            os.replace(port + ".tmp", port)
        deadline = time.monotonic() + 30
        while not os.path.exists(os.path.join(here, "flooded")):
            if time.monotonic() > deadline:
                raise RuntimeError("no flood came")
            time.sleep(0.01)
        i = block.block_id[1]
        died = os.path.join(here, f"died_{{i}}")
        if i < {DEATHS} and not os.path.exists(died):
            open(died, "w").close()
            os._exit(1)
        with open(os.path.join(here, "done"), "a") as f:
            f.write(f"{{i}}\\n")

    task = daisy.Task(
        "flooded",
        Roi((0,), ({BLOCKS},)),
        Roi((0,), (1,)),
        Roi((0,), (1,)),
        process,
        num_workers=2,
        max_retries=2,
        max_worker_restarts={2 * DEATHS},
    )
    print("RESULT", daisy.run_blockwise([task], progress=False), flush=True)
    """
)


class Flood(threading.Thread):
    """Keeps `count` idle connections to a port open: each one the server closes is
    opened again, until stopped."""

    def __init__(self, port, count):
        super().__init__(daemon=True)
        self.port, self.count = port, count
        self.stopped = threading.Event()
        self.opened = threading.Event()
        self.selector = selectors.DefaultSelector()
        self.open_count = 0

    def connect(self):
        try:
            peer = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        except OSError:
            return
        self.selector.register(peer, selectors.EVENT_READ)
        self.open_count += 1

    def run(self):
        for _ in range(self.count):
            self.connect()
        self.opened.set()
        while not self.stopped.is_set():
            for key, _ in self.selector.select(timeout=0.05):
                # Readable: closed by the server (end of stream or reset).
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                self.open_count -= 1
                self.connect()
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()


def raise_own_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.skip(f"needs {needed} open files, the hard limit is {hard}")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def wait_for(path, process, timeout=30):
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"{path.name} never appeared:\n{out}\n{err}")
        time.sleep(0.01)


@pytest.mark.parametrize("lowered", ["soft", "hard"])
def test_idle_connection_flood_leaves_descriptors_for_replacement_workers(tmp_path, lowered):
    """With 1,024 descriptors (the soft limit, which the server raises; or the hard one
    too, and then the cap on connections that have not shaken hands keeps room), 1,100 idle
    connections used to make replacement workers fail with EMFILE on their log files until
    the restart budget was spent and run_blockwise returned False."""
    raise_own_limit(2 * FLOOD)
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(
        [sys.executable, str(script), lowered],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    flood = None
    try:
        wait_for(tmp_path / "port", process)
        flood = Flood(int((tmp_path / "port").read_text()), FLOOD)
        flood.start()
        assert flood.opened.wait(30)
        (tmp_path / "flooded").touch()
        out, err = process.communicate(timeout=60)
    finally:
        if flood is not None:
            flood.stopped.set()
            flood.join(10)
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "RESULT True" in out, out + err
    done = sorted(int(i) for i in (tmp_path / "done").read_text().split())
    assert done == list(range(BLOCKS))
    assert len(list(tmp_path.glob("died_*"))) == DEATHS
    assert "Too many open files" not in err
