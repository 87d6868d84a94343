"""The scheduler never waits on user code, and worker launches are bounded (docs/semantics.md#worker-restarts).

Init callbacks, checks, worker launches and observers run off the engine's event loop: while
one of them is slow, the blocks of other tasks keep being handed out. Real worker processes,
forked from this one.
"""

import time

import pytest

import daisy
from daisy import Roi

# Each test runs in its own directory, so daisy_logs/ lands there.
pytestmark = pytest.mark.usefixtures("in_tmp_dir")

#: Blocks of the fast task, which runs while the slow code waits.
FAST_BLOCKS = 16

#: How long slow code waits at most for the fast task.
PATIENCE = 10.0


def grid(task_id, process, **kwargs):
    """A 4x4 grid of independent blocks."""
    return daisy.Task(
        task_id,
        Roi((0, 0), (4, 4)),
        Roi((0, 0), (1, 1)),
        Roi((0, 0), (1, 1)),
        process,
        read_write_conflict=False,
        num_workers=2,
        **kwargs,
    )


def recorder(out, task_id, pause=0.0):
    """A block function writing one file per block into ``out/<task_id>``."""
    (out / task_id).mkdir(parents=True, exist_ok=True)

    def process(block):
        time.sleep(pause)
        (out / task_id / str(block.block_id[1])).touch()

    return process


def done(out, task_id):
    """How many blocks of the task were recorded."""
    folder = out / task_id
    return len(list(folder.iterdir())) if folder.exists() else 0


def wait_for_fast_task(out):
    """Stands for slow user code: waits until task B is done (or PATIENCE passed) and returns
    how many blocks of B were done then."""
    start = time.monotonic()
    while done(out, "B") < FAST_BLOCKS and time.monotonic() - start < PATIENCE:
        time.sleep(0.01)
    return done(out, "B")


def run_next_to_fast_task(out, a, server=None):
    """Runs task A (made slow by the caller) with task B, whose blocks take 20 ms each."""
    b = grid("B", recorder(out, "B", pause=0.02))
    server = server if server is not None else daisy.Server()
    states = server.run_blockwise([a, b])
    assert states["A"].completed_count == states["B"].completed_count == FAST_BLOCKS
    assert done(out, "A") == FAST_BLOCKS
    return states


def test_init_callback_does_not_stall_other_tasks(tmp_path):
    seen = []
    a = grid(
        "A",
        recorder(tmp_path, "A"),
        init_callback_fn=lambda context: seen.append(wait_for_fast_task(tmp_path)),
    )
    run_next_to_fast_task(tmp_path, a)
    assert seen == [FAST_BLOCKS], "blocks of B done while A's init callback ran"


def test_slow_check_function_does_not_stall_other_tasks(tmp_path):
    seen = []

    def check(block):
        seen.append(wait_for_fast_task(tmp_path))
        return False

    a = grid("A", recorder(tmp_path, "A"), check_function=check)
    run_next_to_fast_task(tmp_path, a)
    assert len(seen) == FAST_BLOCKS
    assert seen[0] == FAST_BLOCKS, "blocks of B done while A's first check ran"


class SlowLaunches(daisy.Server):
    """A server whose launches of task A's workers wait for task B first."""

    def __init__(self, out, **kwargs):
        super().__init__(**kwargs)
        self.out = out
        self.seen = []
        self.launches = []

    def _launch_worker(self, task_id, worker_id, daisy_context, log_basename):
        self.launches.append((task_id, time.monotonic()))
        if task_id == "A" and self.out is not None:
            self.seen.append(wait_for_fast_task(self.out))
        return super()._launch_worker(task_id, worker_id, daisy_context, log_basename)


def test_slow_launch_worker_does_not_stall_other_tasks(tmp_path):
    server = SlowLaunches(tmp_path)
    run_next_to_fast_task(tmp_path, grid("A", recorder(tmp_path, "A")), server)
    assert server.seen[0] == FAST_BLOCKS, "blocks of B done while A's first worker was forked"


def test_huge_num_workers_on_small_task_starts_few_workers(tmp_path):
    task = daisy.Task(
        "t",
        Roi((0,), (2,)),
        Roi((0,), (1,)),
        Roi((0,), (1,)),
        recorder(tmp_path, "t"),
        num_workers=10**6,
    )
    server = SlowLaunches(None)
    start = time.monotonic()
    states = server.run_blockwise([task])
    assert time.monotonic() - start < 10
    assert states["t"].completed_count == 2
    assert 1 <= len(server.launches) <= 2, f"{len(server.launches)} workers for 2 blocks"


def test_crashing_workers_are_restarted_with_backoff():
    def crash():
        raise RuntimeError("the worker crashes at start")

    task = daisy.Task(
        "t",
        Roi((0,), (4,)),
        Roi((0,), (1,)),
        Roi((0,), (1,)),
        crash,
        num_workers=1,
        max_worker_restarts=3,
    )
    server = SlowLaunches(None, stall_grace=0.3)
    states = server.run_blockwise([task])
    assert states["t"].completed_count == 0
    times = [t for _, t in server.launches]
    assert len(times) == 4, "a worker and 3 replacements"
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # Replacements wait 100, 200 and 400 ms after the crash is noticed.
    for gap, backoff in zip(gaps, (0.1, 0.2, 0.4), strict=True):
        assert gap >= backoff, f"replacement gaps {gaps}"


class SlowObserver(daisy.server_observer.ServerObserver):
    """Sleeps in its first release hook until every block is done; writes down what it hears."""

    def __init__(self, server, out):
        super().__init__(server)
        self.out = out
        self.seen_during_sleep = None
        self.heard = []

    def on_release_block(self, task_id, task_state):
        if self.seen_during_sleep is None:
            self.seen_during_sleep = 0
            start = time.monotonic()
            while done(self.out, "B") < FAST_BLOCKS and time.monotonic() - start < PATIENCE:
                time.sleep(0.01)
            self.seen_during_sleep = done(self.out, "B")
        self.heard.append(("release", task_state.completed_count))

    def on_task_done(self, task_id, task_state):
        self.heard.append(("done", task_state.completed_count))

    def on_server_exit(self):
        self.heard.append(("exit", None))


def test_slow_observer_does_not_stall_the_run(tmp_path):
    server = daisy.Server()
    observer = SlowObserver(server, tmp_path)
    states = server.run_blockwise([grid("B", recorder(tmp_path, "B", pause=0.02))])
    assert states["B"].completed_count == FAST_BLOCKS
    assert observer.seen_during_sleep == FAST_BLOCKS, "blocks done while the observer slept"
    # Everything was delivered, in order, before run_blockwise returned.
    assert observer.heard[-2:] == [("done", FAST_BLOCKS), ("exit", None)]
    counts = [count for kind, count in observer.heard if kind == "release"]
    assert counts == sorted(counts)
