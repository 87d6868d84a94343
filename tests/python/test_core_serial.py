"""SerialServer and run_blockwise(multiprocessing=False) (docs/semantics.md#run_blockwise)."""

import pytest

import daisy
from daisy import BlockStatus, Roi


class Recorder:
    """An observer that records every hook call."""

    def __init__(self):
        self.events = []

    def on_task_start(self, task_id, state):
        self.events.append(("start", task_id))

    def on_acquire_block(self, task_id, state):
        self.events.append(("acquire", task_id))

    def on_release_block(self, task_id, state):
        self.events.append(("release", task_id))

    def on_task_done(self, task_id, state):
        self.events.append(("done", task_id, state.completed_count))

    def on_block_failure(self, block, exception, context):
        self.events.append(("failure", block.block_id, repr(exception)))

    def on_server_exit(self):
        self.events.append(("exit",))


def chain(process_a, process_b, **kwargs_a):
    a = daisy.Task(
        "A", Roi((0, 0), (6, 6)), Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), process_a,
        **kwargs_a,
    )
    b = daisy.Task(
        "B", Roi((0, 0), (6, 6)), Roi((0, 0), (3, 3)), Roi((1, 1), (1, 1)), process_b,
        upstream_tasks=[a],
    )
    return a, b


def test_serial_runs_every_block_in_dependency_order():
    done = []

    def process_a(block):
        done.append(block.block_id)
        assert block.status == BlockStatus.CREATED

    def process_b(block):
        # every A block whose write overlaps this read is done
        for up in graph.upstream(block):
            assert up.block_id in done
        done.append(block.block_id)

    a, b = chain(process_a, process_b)
    graph = daisy.DependencyGraph([b])
    server = daisy.SerialServer()
    recorder = Recorder()
    server.register_observer(recorder)
    states = server.run_blockwise([b])
    assert list(states) == ["A", "B"]
    assert len(done) == 32 and len(set(done)) == 32
    assert all(s.completed_count == 16 and s.is_done() for s in states.values())
    kinds = [e[0] for e in recorder.events]
    assert kinds.count("acquire") == 32 and kinds.count("release") == 32
    assert ("start", "A") in recorder.events and ("start", "B") in recorder.events
    assert ("done", "A", 16) in recorder.events and ("done", "B", 16) in recorder.events
    assert recorder.events[-1] == ("exit",)
    assert recorder.events.index(("done", "A", 16)) < recorder.events.index(("done", "B", 16))


def test_run_blockwise_serial_returns_bool():
    a, b = chain(lambda blk: None, lambda blk: None)
    assert daisy.run_blockwise([b], multiprocessing=False) is True


def test_serial_failure_status_orphans_downstream():
    def process_a(block):
        if block.block_id[1] == 4:
            block.status = BlockStatus.FAILED

    a, b = chain(process_a, lambda blk: None, max_retries=1)
    server = daisy.SerialServer()
    states = server.run_blockwise([b])
    assert states["A"].failed_count == 1
    assert states["A"].completed_count == 15
    assert states["B"].orphaned_count > 0
    assert states["B"].completed_count + states["B"].orphaned_count == 16
    a, b = chain(process_a, lambda blk: None, max_retries=1)
    assert daisy.run_blockwise([b], multiprocessing=False) is False


def test_serial_exceptions_propagate():
    def process(block):
        raise RuntimeError("boom in block")

    task = daisy.Task("t", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), process)
    recorder = Recorder()
    server = daisy.SerialServer()
    server.register_observer(recorder)
    with pytest.raises(RuntimeError, match="boom in block"):
        server.run_blockwise([task])
    assert recorder.events[-1] == ("exit",)


def test_serial_rejects_spawn_functions():
    task = daisy.Task("spawner", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda: None)
    with pytest.raises(ValueError, match="spawner"):
        daisy.SerialServer().run_blockwise([task])
    with pytest.raises(ValueError, match="spawner"):
        daisy.run_blockwise([task], multiprocessing=False)


def test_serial_pre_and_post_checks():
    calls = []

    def pre(block):
        return block.block_id[1] < 3

    def post(block):
        calls.append(block.block_id[1])
        return block.block_id[1] != 5

    task = daisy.Task(
        "t",
        Roi((0,), (10,)),
        Roi((0,), (1,)),
        Roi((0,), (1,)),
        lambda b: None,
        check_function=(pre, post),
        max_retries=1,
    )
    recorder = Recorder()
    server = daisy.SerialServer()
    server.register_observer(recorder)
    states = server.run_blockwise([task])
    state = states["t"]
    assert state.skipped_count == 3
    assert state.completed_count == 9  # 3 skipped + 6 processed
    assert state.failed_count == 1
    assert calls.count(5) == 2  # tried twice: max_retries=1
    failures = [e for e in recorder.events if e[0] == "failure"]
    assert [f[1] for f in failures] == [("t", 5), ("t", 5)]
    assert daisy.run_blockwise([task], multiprocessing=False) is False


def test_serial_init_callback_not_called_and_given_scheduler_used():
    called = []
    task = daisy.Task(
        "t", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None,
        init_callback_fn=called.append,
    )
    scheduler = daisy.Scheduler([task])
    states = daisy.SerialServer().run_blockwise([task], scheduler=scheduler)
    assert states is scheduler.task_states
    assert states["t"].completed_count == 10
    assert called == []


def test_serial_all_skipped_task_is_done():
    task = daisy.Task(
        "t", Roi((0,), (10,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None,
        check_function=lambda b: True,
    )
    recorder = Recorder()
    server = daisy.SerialServer()
    server.register_observer(recorder)
    states = server.run_blockwise([task])
    assert states["t"].skipped_count == 10 and states["t"].is_done()
    assert ("done", "t", 10) in recorder.events
    assert daisy.run_blockwise([task], multiprocessing=False) is True
