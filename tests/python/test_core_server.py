"""daisy.Server and the engine's events (docs/semantics.md#the-distributed-run,
#progress-and-the-execution-summary): what observers hear, in which order, and the run
report the Server keeps."""

import pytest
from helpers import line

import daisy
from daisy import _daisy
from daisy.remote_error import RemoteException
from daisy.server_observer import ServerObserver

# Each test runs in its own directory, so daisy_logs/ lands there.
pytestmark = pytest.mark.usefixtures("in_tmp_dir")


class Recorder(ServerObserver):
    """Writes down every hook call; at exit, what the server's report said."""

    def __init__(self, server):
        super().__init__(server)
        self.server = server
        self.calls = []
        self.report_at_exit = "not called"

    def on_task_start(self, task_id, task_state):
        self.calls.append(("start", task_id))

    def on_release_block(self, task_id, task_state):
        self.calls.append(("release", task_id))

    def on_acquire_block(self, task_id, task_state):
        self.calls.append(("acquire", task_id))

    def on_block_failure(self, block, exception, context):
        self.calls.append(("failure", block, exception, context))

    def on_task_done(self, task_id, task_state):
        self.calls.append(("done", task_id, task_state.completed_count))

    def on_task_abandoned(self, task_id, task_state, reason):
        self.calls.append(("abandoned", task_id, task_state.orphaned_count, reason))

    def on_server_exit(self):
        self.calls.append(("exit",))
        self.report_at_exit = self.server.run_report


def fail_block_1(block):
    if block.block_id[1] == 1:
        raise RuntimeError("boom")


def test_observers_hear_typed_events_and_the_report_is_set_before_exit():
    task = line(4, fail_block_1, num_workers=1, max_retries=0)
    server = daisy.Server()
    recorder = Recorder(server)
    states = server.run_blockwise([task])
    assert (states["t"].completed_count, states["t"].failed_count) == (3, 1)
    kinds = [c[0] for c in recorder.calls]
    assert kinds[0] == "start" and kinds[-2:] == ["done", "exit"]
    assert "release" in kinds
    assert "acquire" not in kinds  # the engine reports hand-outs and returns as one event
    (failure,) = [c for c in recorder.calls if c[0] == "failure"]
    _, block, exception, context = failure
    assert block.block_id == ("t", 1)
    assert isinstance(exception, RemoteException)
    assert exception.type_name == "RuntimeError"
    assert repr(exception) == "RuntimeError('boom')"
    assert context["task_id"] == "t" and isinstance(context["worker_id"], int)
    report = recorder.report_at_exit
    assert isinstance(report, _daisy.RunReport)
    assert report is server.run_report
    assert not report.succeeded and not report.interrupted
    assert "Execution Summary" in report.summary
    assert "block 1 in worker " in report.summary
    assert [f["spatial_id"] for f in server.failures] == [1]


def test_an_abandoned_task_is_heard_when_it_happens():
    task = line(3, lambda: None, task_id="quitter", num_workers=1, max_worker_restarts=0)
    server = daisy.Server(stall_grace=0.1)
    recorder = Recorder(server)
    server.run_blockwise([task])
    abandoned = [c for c in recorder.calls if c[0] == "abandoned"]
    assert len(abandoned) == 1
    _, task_id, orphaned, reason = abandoned[0]
    assert (task_id, orphaned) == ("quitter", 3)
    assert "max_worker_restarts = 0" in reason
    # Heard before the task is done and before the run's end.
    kinds = [c[0] for c in recorder.calls]
    assert kinds.index("abandoned") < kinds.index("done") < kinds.index("exit")
    assert server.run_report.abandoned == {"quitter": reason}
    assert not server.run_report.succeeded


def test_a_run_that_fails_to_start_leaves_no_report():
    def init_callback(context):
        raise ValueError("no database")

    task = line(2, init_callback_fn=init_callback)
    server = daisy.Server()
    recorder = Recorder(server)
    with pytest.raises(ValueError, match="no database"):
        server.run_blockwise([task])
    assert recorder.calls[-1] == ("exit",)
    assert recorder.calls.count(("exit",)) == 1


def test_remote_exception_from_a_repr():
    exception = RemoteException.from_repr("mymodule.MyError('x', 3)")
    assert exception.type_name == "mymodule.MyError"
    assert (repr(exception), str(exception)) == ("mymodule.MyError('x', 3)",) * 2
    assert RemoteException.from_repr("lost: worker connection closed").type_name == "Exception"
    original = KeyError("k")
    standin = RemoteException.from_exception(original)
    assert (standin.type_name, repr(standin), str(standin)) == ("KeyError", "KeyError('k')", "'k'")
