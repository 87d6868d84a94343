"""End-to-end runs with worker processes (docs/semantics.md#the-distributed-run, #workers-and-daisy_context, #run_blockwise).

Block functions are closures over local variables: workers are forked, nothing is pickled.
"""

import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest
from helpers import interrupted_script, line

import daisy
from daisy import Roi

# Each test runs in its own directory, so daisy_logs/ lands there.
pytestmark = pytest.mark.usefixtures("in_tmp_dir")


def lines(path):
    return path.read_text().splitlines()


def test_every_block_exactly_once(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    parent = os.getpid()

    def process(block):
        assert os.getpid() != parent
        with open(out / str(block.block_id[1]), "a") as f:
            f.write(f"{os.getpid()}\n")

    task = daisy.Task(
        "write",
        Roi((0, 0), (40, 40)),
        Roi((0, 0), (12, 12)),
        Roi((1, 1), (10, 10)),
        process,
        num_workers=2,
        fit="overhang",
    )
    assert daisy.run_blockwise([task]) is True
    files = sorted(out.iterdir())
    scheduler = daisy.Scheduler([task])
    assert len(files) == scheduler.task_states["write"].total_block_count == 16
    pids = set()
    for f in files:
        written = lines(f)
        assert len(written) == 1, f
        pids.add(written[0])
    assert str(parent) not in pids
    logs = tmp_path / "daisy_logs" / "write"
    assert any(p.name.endswith(".out") for p in logs.iterdir())


def test_states_from_server_and_worker_logs(tmp_path):
    def process(block):
        print(f"processing {block.block_id[1]}")

    task = daisy.Task(
        "printer", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), process, num_workers=2
    )
    server = daisy.Server()
    states = server.run_blockwise([task])
    state = states["printer"]
    assert isinstance(state, daisy.task_state.TaskState)
    assert (state.completed_count, state.total_block_count, state.started) == (10, 10, True)
    assert server.port is not None and server.hostname == "127.0.0.1"
    printed = []
    for f in (tmp_path / "daisy_logs" / "printer").glob("worker_*.out"):
        printed.extend(lines(f))
    assert sorted(printed) == sorted(f"processing {i}" for i in range(10))


class CurrentStderr(logging.Handler):
    """Writes records to whatever sys.stderr is when they are emitted (in a worker: its
    .err file). pytest captures the root logger's records in memory, so without this the
    workers' log lines would not reach their log files during the tests."""

    def emit(self, record):
        sys.stderr.write(self.format(record) + "\n")


@pytest.fixture
def stderr_logging():
    handler = CurrentStderr(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("daisy")
    logger.addHandler(handler)
    yield
    logger.removeHandler(handler)


def test_failing_block_orphans_downstream(tmp_path, stderr_logging):
    def process_a(block):
        if block.block_id[1] == 3:
            raise RuntimeError("boom")

    a = line(10, process_a, task_id="A", num_workers=2, max_retries=1)
    b = line(10, lambda blk: None, task_id="B", upstream_tasks=[a])
    failures = []

    class Observer:
        def on_block_failure(self, block, exception, context):
            failures.append((block.block_id, repr(exception), context["worker_id"]))

        def __getattr__(self, name):
            return lambda *args: None

    server = daisy.Server()
    server.register_observer(Observer())
    states = server.run_blockwise([b])
    assert list(states) == ["A", "B"]
    assert (states["A"].completed_count, states["A"].failed_count) == (9, 1)
    assert (states["B"].completed_count, states["B"].orphaned_count) == (9, 1)
    assert len(failures) == 2
    assert all(f[0] == ("A", 3) and "boom" in f[1] for f in failures)
    err = "".join(p.read_text() for p in (tmp_path / "daisy_logs" / "A").glob("worker_*.err"))
    assert "Block A/3 with read ROI [3:4] (1) and write ROI [3:4] (1) failed in worker" in err
    assert "Traceback" in err and "RuntimeError: boom" in err
    # The summary points at the .err log of the failing worker.
    summary = server.run_report.summary
    for failure in server.run_report.failures:
        assert failure["log_basename"].endswith(f"worker_{failure['worker_id']}")
        assert f"{failure['log_basename']}.err / .out" in summary
    assert daisy.run_blockwise([b]) is False


def test_hanging_block_is_retried_after_timeout(tmp_path):
    marker = tmp_path / "hung"
    done = tmp_path / "done"
    done.mkdir()

    def process(block):
        if block.block_id[1] == 2 and not marker.exists():
            marker.touch()
            time.sleep(120)
        (done / str(block.block_id[1])).touch()

    task = line(5, process, task_id="hang", num_workers=2, timeout=1)
    start = time.time()
    assert daisy.run_blockwise([task]) is True
    assert time.time() - start < 60
    assert marker.exists()
    assert sorted(p.name for p in done.iterdir()) == ["0", "1", "2", "3", "4"]


def test_killed_worker_block_is_retried(tmp_path):
    marker = tmp_path / "killed"
    done = tmp_path / "done"
    done.mkdir()

    def process(block):
        if block.block_id[1] == 1 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), 9)
        (done / str(block.block_id[1])).touch()

    task = daisy.Task(
        "kill", Roi((0,), (6,)), Roi((0,), (1,)), Roi((0,), (1,)), process, num_workers=2
    )
    states = daisy.Server().run_blockwise([task])
    assert states["kill"].completed_count == 6
    assert marker.exists()
    assert sorted(int(p.name) for p in done.iterdir()) == list(range(6))


def test_chained_tasks_with_conflicts(tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def write_a(block):
        (out / f"A{block.block_id[1]}").write_text(str(block.write_roi))

    def read_a(block):
        # every A block this block reads from is written
        for up in graph.upstream(block):
            if up.block_id[0] == "A":
                assert (out / f"A{up.block_id[1]}").exists(), up
        (out / f"B{block.block_id[1]}").write_text("ok")

    a = daisy.Task(
        "A",
        Roi((0, 0), (12, 12)),
        Roi((0, 0), (4, 4)),
        Roi((1, 1), (2, 2)),
        write_a,
        num_workers=2,
    )
    b = daisy.Task(
        "B",
        Roi((0, 0), (12, 12)),
        Roi((0, 0), (4, 4)),
        Roi((1, 1), (2, 2)),
        read_a,
        num_workers=2,
        upstream_tasks=[a],
    )
    graph = daisy.DependencyGraph([b])
    states = daisy.Server().run_blockwise([b])
    assert states["A"].completed_count == states["A"].total_block_count == 25
    assert states["B"].completed_count == 25 and states["B"].failed_count == 0
    assert len(list(out.iterdir())) == 50


WORKER_PROGRAM = textwrap.dedent(
    """
    import os, sys
    import daisy

    out = sys.argv[1]
    client = daisy.Client()
    while True:
        with client.acquire_block() as block:
            if block is None:
                break
            with open(os.path.join(out, str(block.block_id[1])), "a") as f:
                f.write(f"{client.worker_id}\\n")
    """
)


def test_spawn_function_starting_subprocess_clients(tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def spawn():
        subprocess.run([sys.executable, "-c", WORKER_PROGRAM, str(out)], check=True)

    task = daisy.Task(
        "spawned", Roi((0,), (20,)), Roi((0,), (1,)), Roi((0,), (1,)), spawn, num_workers=2
    )
    assert daisy.run_blockwise([task]) is True
    assert sorted(int(p.name) for p in out.iterdir()) == list(range(20))
    for p in out.iterdir():
        assert len(lines(p)) == 1


def test_raising_spawn_function_is_a_failed_worker(tmp_path):
    def spawn():
        raise ValueError("spawn function broke")

    broken = line(4, spawn, task_id="broken", num_workers=1, max_worker_restarts=2)
    other = line(4, task_id="other", num_workers=1)
    abandoned = []

    class Observer:
        def on_task_abandoned(self, task_id, state, reason):
            abandoned.append(task_id)

    server = daisy.Server(stall_grace=0.2)
    server.register_observer(Observer())
    states = server.run_blockwise([broken, other])  # no RunError: the run goes on
    assert abandoned == ["broken"]
    assert (states["broken"].orphaned_count, states["broken"].completed_count) == (4, 0)
    assert states["other"].completed_count == 4
    # The first worker and the two replacements of the budget, each with its traceback.
    errs = sorted((tmp_path / "daisy_logs" / "broken").glob("worker_*.err"))
    assert len(errs) == 3
    for err in errs:
        text = err.read_text()
        assert "Traceback" in text and "ValueError: spawn function broke" in text, text
    summary = server.run_report.summary
    assert "Failed Workers:" in summary
    for err in errs:
        worker_id = err.stem.removeprefix("worker_")
        assert f"worker {worker_id} failed with exit code 1" in summary
        assert f"{err} / .out" in summary
    assert "no worker left and the restart budget is used up" in summary
    assert daisy.run_blockwise([broken, other], progress=False) is False


def test_a_spawn_function_that_failed_once_is_replaced(tmp_path):
    marker = tmp_path / "failed_once"
    out = tmp_path / "out"
    out.mkdir()

    def spawn():
        if not marker.exists():
            marker.touch()
            raise RuntimeError("first attempt")
        subprocess.run([sys.executable, "-c", WORKER_PROGRAM, str(out)], check=True)

    task = line(6, spawn, task_id="flaky", num_workers=1, max_worker_restarts=1)
    server = daisy.Server()
    states = server.run_blockwise([task])
    assert states["flaky"].completed_count == 6
    assert sorted(int(p.name) for p in out.iterdir()) == list(range(6))
    report = server.run_report
    assert report.succeeded
    assert "Failed Workers:" in report.summary and "failed with exit code 1" in report.summary


def test_a_client_exception_still_aborts_the_run():
    def spawn():
        from daisy import _daisy

        _daisy.Client(os.environ["DAISY_CONTEXT"]).client_exception("RuntimeError('told')")

    task = daisy.Task(
        "told", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), spawn, num_workers=1
    )
    with pytest.raises(daisy.errors.RunError, match="told"):
        daisy.Server().run_blockwise([task])


def test_keyboard_interrupt_in_a_worker_ends_it_quietly(tmp_path):
    def spawn():
        raise KeyboardInterrupt

    task = line(3, spawn, task_id="quiet", num_workers=1, max_worker_restarts=0)
    server = daisy.Server(stall_grace=0.2)
    states = server.run_blockwise([task])
    # Exit code 0: not a failed worker; the task has nobody left and is abandoned.
    assert states["quiet"].orphaned_count == 3
    assert "Failed Workers:" not in server.run_report.summary
    (err,) = (tmp_path / "daisy_logs" / "quiet").glob("worker_*.err")
    assert err.read_text() == ""


def test_init_callback(tmp_path):
    contexts = []

    task = line(4, task_id="init", init_callback_fn=contexts.append)
    assert daisy.run_blockwise([task]) is True
    assert len(contexts) == 1
    context = contexts[0]
    assert isinstance(context, daisy.Context)
    assert context["task_id"] == "init"
    assert int(context["worker_id"]) == 0
    assert int(context["port"]) > 0

    def broken(context):
        raise RuntimeError("init failed")

    task = line(4, task_id="init2", init_callback_fn=broken)
    with pytest.raises(RuntimeError, match="init failed"):
        daisy.run_blockwise([task])


def test_server_collects_upstream_tasks_and_pre_checks(tmp_path):
    out = tmp_path / "out"
    out.mkdir()

    def process(block):
        (out / f"{block.block_id[0]}{block.block_id[1]}").touch()

    a = line(10, process, task_id="A", check_function=lambda blk: blk.block_id[1] < 5)
    b = daisy.Task(
        "B", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), process, upstream_tasks=[a]
    )
    states = daisy.Server().run_blockwise([b])  # only b given: a is collected
    assert states["A"].skipped_count == 5 and states["A"].completed_count == 10
    assert states["B"].completed_count == 10
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"A{i}" for i in range(5, 10)] + [f"B{i}" for i in range(10)]
    )


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys, time
    import daisy

    def process(block):
        open("started", "w").close()  # a worker is processing: Ctrl-C may come
        time.sleep(0.2)

    task = daisy.Task("slow", daisy.Roi((0,), (1000,)), daisy.Roi((0,), (1,)),
                      daisy.Roi((0,), (1,)), process, num_workers=2)
    if sys.argv[1] == "server":
        server = daisy.Server()
        daisy.cl_monitor.CLMonitor(server)
        try:
            server.run_blockwise([task])
        except KeyboardInterrupt:
            print("raised KeyboardInterrupt", flush=True)
    else:
        print("result", daisy.run_blockwise([task]), flush=True)
    """
)


def interrupted_run(tmp_path, how):
    """Runs CTRL_C_SCRIPT, sends SIGINT once a block started; its output."""
    return interrupted_script(tmp_path, CTRL_C_SCRIPT, how)


def test_ctrl_c_run_blockwise_returns_false_after_summary(tmp_path):
    out = interrupted_run(tmp_path, "run_blockwise")
    assert out.count("Execution Summary") == 1, out
    assert "The run was interrupted" in out, out
    assert out.rstrip().endswith("result False"), out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


def test_ctrl_c_server_raises_keyboard_interrupt_after_summary(tmp_path):
    out = interrupted_run(tmp_path, "server")
    summary = out.index("Execution Summary")
    assert "The run was interrupted" in out[summary:], out
    assert out.rstrip().endswith("raised KeyboardInterrupt"), out


def test_ctrl_c_while_the_engine_logs_on_the_main_thread_is_not_lost(in_tmp_dir):
    # Python runs signal handlers in whatever Python code the main thread runs; during a
    # run that includes the logging of the engine's records. A KeyboardInterrupt raised
    # there (here: by a handler, as the signal handler would) must stop the run, not vanish
    # inside `logging`.
    import threading

    class InterruptOnce(logging.Handler):
        fired = False

        def emit(self, record):
            main = threading.current_thread() is threading.main_thread()
            if main and record.name.startswith("daisy.") and not self.fired:
                InterruptOnce.fired = True
                raise KeyboardInterrupt

    def process(block):
        time.sleep(0.01)

    handler = InterruptOnce(level=logging.DEBUG)
    engine = logging.getLogger("daisy")
    old_level = engine.level
    engine.addHandler(handler)
    engine.setLevel(logging.DEBUG)
    try:
        with pytest.raises(KeyboardInterrupt):
            daisy.Server().run_blockwise([line(2000, process, task_id="logged", num_workers=1)])
    finally:
        engine.removeHandler(handler)
        engine.setLevel(old_level)
    assert InterruptOnce.fired


def test_stop_event_stops_the_run(tmp_path):
    import threading

    out = tmp_path / "out"
    out.mkdir()

    def process(block):
        (out / str(block.block_id[1])).touch()
        time.sleep(0.05)

    task = line(2000, process, task_id="stoppable", num_workers=2)
    server = daisy.Server()
    ended = threading.Event()

    def stop_after_some_blocks():
        # Ten blocks started by two workers (that ask for one block at a time, as these take
        # long): one worker is on its fifth at least, so blocks have come back.
        while len(list(out.iterdir())) < 10:
            if ended.wait(0.01):
                return
        server.stop_event.set()

    stopper = threading.Thread(target=stop_after_some_blocks)
    stopper.start()
    start = time.time()
    try:
        states = server.run_blockwise([task])
    finally:
        ended.set()
        stopper.join()
    assert time.time() - start < 30
    state = states["stoppable"]
    assert 0 < state.completed_count < 2000
    assert server.interrupted
    # the stop request does not leak into later calls of the engine
    scheduler = daisy.Scheduler([task])
    assert scheduler.acquire_block("stoppable") is not None


def test_given_scheduler_gets_the_final_states():
    task = line(8, task_id="given", num_workers=2)
    scheduler = daisy.Scheduler([task])
    states = daisy.Server().run_blockwise([task], scheduler=scheduler)
    assert states is scheduler.task_states
    assert states["given"].completed_count == 8
    assert str(states["given"]).startswith("Started: True\nTotal Blocks: 8\n")


def test_body_setting_failed_fails_the_block():
    def process(block):
        if block.block_id[1] == 2:
            block.status = daisy.BlockStatus.FAILED

    task = line(5, process, task_id="selffail", num_workers=2, max_retries=0)
    states = daisy.Server().run_blockwise([task])
    assert (states["selffail"].completed_count, states["selffail"].failed_count) == (4, 1)


def test_spawn_function_exiting_early_abandons_the_task():
    abandoned = []

    class Observer:
        def on_task_abandoned(self, task_id, state, reason):
            abandoned.append((task_id, reason))

    task = line(5, lambda: None, task_id="quitter", num_workers=1, max_worker_restarts=1)
    server = daisy.Server(stall_grace=0.2)
    server.register_observer(Observer())
    start = time.time()
    states = server.run_blockwise([task])
    assert time.time() - start < 30
    assert states["quitter"].orphaned_count == 5
    assert states["quitter"].is_done()
    assert [a[0] for a in abandoned] == ["quitter"]


def test_run_blockwise_prints_summary_and_accepts_progress_observer(capsys):
    task = line(6, task_id="summarised", num_workers=2)
    assert daisy.run_blockwise([task]) is True
    out = capsys.readouterr().out
    assert "Execution Summary" in out and "Task summarised:" in out
    assert "all blocks processed successfully" in out

    events = []

    class Progress:
        def on_task_done(self, task_id, state):
            events.append((task_id, state.completed_count))

    assert daisy.run_blockwise([task], progress=Progress()) is True
    assert events == [("summarised", 6)]
    assert "Execution Summary" not in capsys.readouterr().out
