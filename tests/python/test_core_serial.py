"""SerialServer and run_blockwise(multiprocessing=False) (docs/semantics.md#run_blockwise)."""

import pytest
from helpers import chain, line

import daisy
from daisy import BlockStatus


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


def observed():
    """A SerialServer with a Recorder registered."""
    server = daisy.SerialServer()
    recorder = Recorder()
    server.register_observer(recorder)
    return server, recorder


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
    assert server.run_report.succeeded is False
    assert server.run_report.counters["B"].orphaned_count == states["B"].orphaned_count
    assert states["A"].failed_count == 1
    assert states["A"].completed_count == 15
    assert states["B"].orphaned_count > 0
    assert states["B"].completed_count + states["B"].orphaned_count == 16
    a, b = chain(process_a, lambda blk: None, max_retries=1)
    assert daisy.run_blockwise([b], multiprocessing=False) is False


def test_serial_exceptions_propagate():
    def process(block):
        raise RuntimeError("boom in block")

    task = line(10, process)
    server, recorder = observed()
    with pytest.raises(RuntimeError, match="boom in block"):
        server.run_blockwise([task])
    assert recorder.events[-1] == ("exit",)


def test_serial_rejects_spawn_functions():
    task = line(10, lambda: None, task_id="spawner")
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

    task = line(10, check_function=(pre, post), max_retries=1)
    server, recorder = observed()
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
    task = line(10, init_callback_fn=called.append)
    scheduler = daisy.Scheduler([task])
    states = daisy.SerialServer().run_blockwise([task], scheduler=scheduler)
    assert states is scheduler.task_states
    assert states["t"].completed_count == 10
    assert called == []


def test_serial_all_skipped_task_is_done():
    task = line(10, check_function=lambda b: True)
    server, recorder = observed()
    states = server.run_blockwise([task])
    assert states["t"].skipped_count == 10 and states["t"].is_done()
    assert ("done", "t", 10) in recorder.events
    assert daisy.run_blockwise([task], multiprocessing=False) is True


# --- the engine's loop, report and hooks ---------------------------------------------------------


def test_serial_run_report_is_the_engines():
    calls = []

    def post(block):
        return block.block_id[1] != 5

    task = line(10, check_function=(None, post), max_retries=1)
    server, recorder = observed()
    assert server.run_report is None
    server.register_observer(
        type("Exit", (), {"on_server_exit": lambda _: calls.append(server.run_report)})()
    )
    states = server.run_blockwise([task])
    report = server.run_report
    assert calls == [report]  # set before the observers hear of the exit
    assert not report.succeeded and not report.interrupted
    assert report.counters["t"].failed_count == states["t"].failed_count == 1
    assert (
        report.failures
        == [
            dict(
                task_id="t",
                spatial_id=5,
                worker_id=None,
                error="post-check failed",
                log_basename=None,
            )
        ]
        * 2
    )
    assert report.summary == (
        "\nExecution Summary\n-----------------\n"
        "\n  Task t:\n\n"
        "    num blocks : 10\n"
        "    completed ✔: 9 (skipped 0)\n"
        "    failed    ✗: 1\n"
        "    orphaned  ∅: 0\n"
        "\n"
        "    Failed Blocks:\n"
        "\n"
        "      block 5 in an unknown worker with exception post-check failed\n"
        "        and 1 more like it (2 in all, of block 5)\n"
    )
    failures = [e for e in recorder.events if e[0] == "failure"]
    assert failures == [("failure", ("t", 5), "RuntimeError('post-check failed')")] * 2


def test_serial_block_left_failed_is_reported():
    def process(block):
        if block.block_id[1] == 2:
            block.status = BlockStatus.FAILED

    task = line(4, process, max_retries=0)
    server, recorder = observed()
    server.run_blockwise([task])
    assert [f["error"] for f in server.run_report.failures] == ["block released as FAILED"]
    assert ("failure", ("t", 2), "RuntimeError('block released as FAILED')") in recorder.events


def test_serial_event_order_per_block():
    task = line(2)
    server, recorder = observed()
    server.run_blockwise([task])
    assert recorder.events == [
        ("start", "t"),
        ("acquire", "t"),
        ("release", "t"),
        ("acquire", "t"),
        ("release", "t"),
        ("done", "t", 2),
        ("exit",),
    ]


def test_serial_observer_states_hold_the_counts_of_the_event():
    seen = []

    class Watch:
        def on_acquire_block(self, task_id, state):
            seen.append((state.processing_count, state.completed_count, str(state).splitlines()[0]))

    task = line(2)
    server = daisy.SerialServer()
    server.register_observer(Watch())
    server.run_blockwise([task])
    assert seen == [(1, 0, "Started: True"), (1, 1, "Started: True")]


def test_serial_exception_is_raised_unchanged_and_no_report():
    raised = KeyError("the very object")

    def process(block):
        raise raised

    task = line(3, process)
    server = daisy.SerialServer()
    with pytest.raises(KeyError) as e:
        server.run_blockwise([task])
    assert e.value is raised
    assert server.run_report is None
    # the block stays handed out, as after a crash; the scheduler is usable again
    assert server.scheduler.task_states["t"].processing_count == 1


def test_serial_observer_exception_stops_the_run():
    class Broken:
        def on_release_block(self, task_id, state):
            raise ValueError("observer broke")

    ran = []
    task = line(3, ran.append)
    server = daisy.SerialServer()
    server.register_observer(Broken())
    with pytest.raises(ValueError, match="observer broke"):
        server.run_blockwise([task])
    assert len(ran) == 1


def test_serial_keyboard_interrupt_in_a_pre_check_stops_the_run():
    def pre(block):
        raise KeyboardInterrupt

    ran = []
    task = line(3, ran.append, check_function=pre)
    with pytest.raises(KeyboardInterrupt):
        daisy.SerialServer().run_blockwise([task])
    assert ran == []


def test_run_blockwise_serial_is_the_reports_verdict():
    # all skipped: a success (orphans and failures: test_serial_failure_status_orphans_downstream)
    task = line(3, task_id="s", check_function=lambda b: True)
    assert daisy.run_blockwise([task], multiprocessing=False, progress=False) is True
