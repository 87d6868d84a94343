"""daisy.server_observer (docs/semantics.md#progress-and-the-execution-summary), daisy.cl_monitor (docs/semantics.md#progress-and-the-execution-summary) and daisy.block_bookkeeper (docs/semantics.md#lost-blocks-and-timeouts)."""

import datetime
import io
import logging
import time
import types
from pathlib import Path

import pytest
from funlib.geometry import Roi

import daisy
import daisy.logging as daisy_logging
from daisy import _daisy
from daisy.block_bookkeeper import BlockBookkeeper
from daisy.cl_monitor import CLMonitor, TqdmLoggingHandler
from daisy.context import Context
from daisy.server_observer import ServerObservee, ServerObserver
from daisy.tcp import TCPClient, TCPMessage, TCPServer


@pytest.fixture(autouse=True)
def default_log_basedir(monkeypatch):
    monkeypatch.setattr(daisy_logging, "LOG_BASEDIR", Path("./daisy_logs"))


def task_state(total, ready=0, processing=0, completed=0, skipped=0, failed=0, orphaned=0):
    """A started daisy.TaskState with these counts."""
    return daisy.task_state.TaskState._from_counters(
        _daisy.Counters(True, total, ready, processing, completed, skipped, failed, orphaned)
    )


class FakeBlock:
    def __init__(self, task_id, spatial_id):
        self.block_id = (task_id, spatial_id)
        self.started_processing = None
        self.stopped_processing = None

    def __repr__(self):
        return f"{self.block_id[0]}/{self.block_id[1]}"


# --- ServerObserver / ServerObservee ------------------------------------------------------------


class Recorder(ServerObserver):
    def __init__(self, server, name, log):
        super().__init__(server)
        self.name, self.log = name, log

    def on_task_start(self, task_id, task_state):
        self.log.append((self.name, "start", task_id, task_state))

    def on_block_failure(self, block, exception, context):
        self.log.append((self.name, "failure", block, exception, context))


def test_observer_registers_itself_and_hooks_are_called_in_order():
    server = ServerObservee()
    log = []
    first = Recorder(server, "first", log)
    second = Recorder(server, "second", log)
    assert server.observers == [first, second]
    server.notify_task_start("A", 1)
    server.notify_block_failure("b", "e", "c")
    assert log == [
        ("first", "start", "A", 1),
        ("second", "start", "A", 1),
        ("first", "failure", "b", "e", "c"),
        ("second", "failure", "b", "e", "c"),
    ]
    server.unregister_observer(first)
    log.clear()
    server.notify_task_start("B", 2)
    assert log == [("second", "start", "B", 2)]
    with pytest.raises(ValueError, match="is not registered"):
        server.unregister_observer(first)


def test_default_hooks_are_no_ops():
    server = ServerObservee()
    ServerObserver(server)
    server.notify_task_start("A", None)
    server.notify_acquire_block("A", None)
    server.notify_release_block("A", None)
    server.notify_block_failure(None, None, None)
    server.notify_task_done("A", None)
    server.notify_task_abandoned("A", None, "why")
    server.notify_server_exit()


def test_duck_typed_observers_without_some_hooks_are_fine():
    server = ServerObservee()
    calls = []
    observer = types.SimpleNamespace(on_server_exit=lambda: calls.append("exit"))
    server.register_observer(observer)
    server.notify_task_done("A", None)
    server.notify_server_exit()
    assert calls == ["exit"]


def test_observee_subclass_without_init_still_works():
    class Lazy(ServerObservee):
        def __init__(self):
            pass

    server = Lazy()
    ServerObserver(server)
    assert len(server.observers) == 1


def test_observer_of_a_non_observable_is_a_type_error():
    with pytest.raises(TypeError, match=r"ServerObserver\(server\): server must be observable"):
        ServerObserver(object())


# --- CLMonitor: bars ---------------------------------------------------------------------------------


def test_bars_are_created_on_first_event_and_follow_the_counts():
    server = ServerObservee()
    monitor = CLMonitor(server)
    assert monitor in server.observers
    server.notify_task_start("A", task_state(10, ready=10))
    assert monitor.progresses == {}
    server.notify_acquire_block("A", task_state(10, ready=9, processing=1))
    bar = monitor.progresses["A"]
    assert bar.total == 10
    assert bar.desc == "A ▶"
    assert bar.unit == "blocks"
    assert bar.leave
    assert bar.postfix == "⧗=0, ▶=1, ✔=0, ✗=0, ∅=0"
    assert bar.n == 0
    bar.mininterval = 0  # redraw on every event (the default: at most every 0.1 s)
    server.notify_release_block("A", task_state(10, ready=5, processing=1, completed=3, failed=1))
    assert bar.n == 3
    assert bar.postfix == "⧗=0, ▶=1, ✔=3, ✗=1, ∅=0"
    server.notify_task_done("A", task_state(10, completed=9, failed=1))
    assert bar.desc == "A ✗"
    assert bar.n == 9
    assert bar.disable  # closed


def test_bars_take_counts_at_their_redraw_rate_and_the_final_counts_at_the_end():
    server = ServerObservee()
    monitor = CLMonitor(server)
    server.notify_acquire_block("A", task_state(10, ready=9, processing=1))
    bar = monitor.progresses["A"]
    bar.mininterval = 3600.0  # the next redraw is far away
    for completed in range(1, 9):
        server.notify_release_block("A", task_state(10, ready=9 - completed, completed=completed))
    assert bar.n == 0
    assert bar.postfix == "⧗=0, ▶=1, ✔=0, ✗=0, ∅=0"
    server.notify_task_done("A", task_state(10, completed=10))
    assert bar.n == 10
    assert bar.postfix == "⧗=0, ▶=0, ✔=10, ✗=0, ∅=0"


@pytest.mark.parametrize(
    "state, symbol",
    [
        (task_state(4, completed=4), "✔"),
        (task_state(4, completed=2, failed=1, orphaned=1), "✗"),
        (task_state(4, completed=3, orphaned=1), "∅"),
    ],
)
def test_done_marks(state, symbol):
    server = ServerObservee()
    monitor = CLMonitor(server)
    server.notify_release_block("T", task_state(4, processing=1))
    server.notify_task_done("T", state)
    assert monitor.progresses["T"].desc == f"T {symbol}"


def test_tty_log_handlers_are_wrapped_once_and_print_through_tqdm():
    class TTY(io.StringIO):
        def isatty(self):
            return True

    root = logging.getLogger()
    tty_handler = logging.StreamHandler(TTY())
    plain_handler = logging.StreamHandler(io.StringIO())
    root.addHandler(tty_handler)
    root.addHandler(plain_handler)
    try:
        CLMonitor(ServerObservee())
        CLMonitor(ServerObservee())
        wrapped = [h for h in root.handlers if isinstance(h, TqdmLoggingHandler)]
        assert [w.handler for w in wrapped] == [tty_handler]
        assert plain_handler in root.handlers
        # attributes are forwarded
        assert wrapped[0].level == tty_handler.level
        wrapped[0].setLevel(logging.INFO)
        assert tty_handler.level == logging.INFO
        logging.getLogger("daisy.test").warning("through the bars")
        assert tty_handler.stream.getvalue() == "through the bars\n"
        assert plain_handler.stream.getvalue() == "through the bars\n"
        # filtered records are not written
        logging.getLogger("daisy.test").debug("hidden")
        assert tty_handler.stream.getvalue() == "through the bars\n"
    finally:
        root.handlers = [
            h
            for h in root.handlers
            if h is not plain_handler and getattr(h, "handler", h) is not tty_handler
        ]


# --- CLMonitor: Execution Summary ----------------------------------------------------------------
# The summary is the engine's (RunReport.summary); the monitor prints what its server's
# run_report hands it.

SPEC_SUMMARY = """
Execution Summary
-----------------

  Task A:

    num blocks : 9
    completed ✔: 8 (skipped 0)
    failed    ✗: 1
    orphaned  ∅: 0

    Failed Blocks:

      block 3 in worker 1 with exception RuntimeError('boom')
        and 1 more like it (2 in all, of block 3)

    See worker logs for details:

      daisy_logs/A/worker_1.err / .out

  Task B:

    num blocks : 9
    completed ✔: 8 (skipped 0)
    failed    ✗: 0
    orphaned  ∅: 1

"""


class ReportingServer(ServerObservee):
    """An observee that, like daisy's servers, sets run_report before it notifies the exit."""

    def __init__(self):
        super().__init__()
        self.run_report = None

    def exit(self, report):
        self.run_report = report
        self.notify_server_exit()


def counters(total, **counts):
    return _daisy.Counters(started=True, total_block_count=total, **counts)


def failure(task_id, spatial_id, error, worker_id=None, log_basename=None):
    return dict(
        task_id=task_id,
        spatial_id=spatial_id,
        error=error,
        worker_id=worker_id,
        log_basename=log_basename,
    )


def spec_report():
    boom = failure("A", 3, "RuntimeError('boom')", 1, "daisy_logs/A/worker_1")
    return _daisy.RunReport(
        {
            "A": counters(9, completed_count=8, failed_count=1),
            "B": counters(9, completed_count=8, orphaned_count=1),
        },
        [boom, boom],
    )


def test_execution_summary_of_the_spec(capsys):
    server = ReportingServer()
    monitor = CLMonitor(server)
    # the hooks drive the bars; the summary comes from the report alone
    server.notify_task_start("A", task_state(9, ready=1))
    server.notify_release_block("A", task_state(9, completed=8, failed=1))
    server.notify_task_done("A", task_state(9, completed=8, failed=1))
    capsys.readouterr()
    report = spec_report()
    server.exit(report)
    assert capsys.readouterr().out == SPEC_SUMMARY
    assert monitor.summary_text() == SPEC_SUMMARY == report.summary == str(report)
    assert monitor.run_report is report
    assert not report.succeeded


def test_summary_of_a_successful_task_and_of_an_empty_task(capsys):
    server = ReportingServer()
    CLMonitor(server)
    report = _daisy.RunReport(
        {"A": counters(3, completed_count=3, skipped_count=1), "Z": counters(0)}
    )
    server.exit(report)
    assert capsys.readouterr().out == (
        "\nExecution Summary\n-----------------\n"
        "\n  Task A:\n\n"
        "    num blocks : 3\n"
        "    completed ✔: 3 (skipped 1)\n"
        "    failed    ✗: 0\n"
        "    orphaned  ∅: 0\n"
        "\n"
        "    all blocks processed successfully\n"
        "\n  Task Z:\n\n"
        "    num blocks : 0\n"
        "    completed ✔: 0 (skipped 0)\n"
        "    failed    ✗: 0\n"
        "    orphaned  ∅: 0\n"
        "\n"
        "    all blocks processed successfully\n"
    )
    assert report.succeeded


def test_summary_after_success_on_retry_lists_failures_then_success(capsys):
    server = ReportingServer()
    CLMonitor(server)
    report = _daisy.RunReport(
        {"A": counters(2, completed_count=2)},
        [failure("A", 1, "ValueError('once')", 0, "daisy_logs/A/worker_0")],
    )
    server.exit(report)
    assert capsys.readouterr().out.endswith(
        "    orphaned  ∅: 0\n"
        "\n"
        "    Failed Blocks:\n"
        "\n"
        "      block 1 in worker 0 with exception ValueError('once')\n"
        "\n"
        "    See worker logs for details:\n"
        "\n"
        "      daisy_logs/A/worker_0.err / .out\n"
        "    all blocks processed successfully\n"
    )
    assert report.succeeded  # a block that failed once and then succeeded


def test_summary_truncates_long_failure_lists(capsys):
    server = ReportingServer()
    CLMonitor(server)

    # 105 different errors (errors that differ only in digits are one error).
    def error(i):
        return "RuntimeError('" + "".join("ghijklmnop"[int(d)] for d in str(i)) + "')"

    failures = [failure("A", i, error(i), i, f"daisy_logs/A/worker_{i}") for i in range(105)]
    server.exit(
        _daisy.RunReport({"A": counters(200, completed_count=95, failed_count=105)}, failures)
    )
    lines = capsys.readouterr().out.split("\n")
    shown = [line for line in lines if line.startswith("      block ")]
    assert len(shown) == 100
    assert shown[0] == "      block 0 in worker 0 with exception RuntimeError('g')"
    assert shown[-1] == "      block 99 in worker 99 with exception RuntimeError('pp')"
    assert "      (and 5 more errors, 5 failures)" in lines
    logs = [line for line in lines if line.endswith(".err / .out")]
    assert logs == [f"      daisy_logs/A/worker_{i}.err / .out" for i in range(10)]
    assert lines[lines.index(logs[-1]) + 1] == "      ..."
    assert "    all blocks processed successfully" not in lines


def test_summary_of_engine_errors_without_logs_and_abandoned_tasks(capsys):
    server = ReportingServer()
    monitor = CLMonitor(server)
    report = _daisy.RunReport(
        {"A": counters(5, completed_count=1, orphaned_count=4)},
        [
            failure("A", 7, "TimeoutError('lost: timed out after 2 s')", 4, "/logs/A/worker_4"),
            failure("A", 8, "lost: connection closed"),
        ],
        {"A": "max_worker_restarts=2 exhausted"},
    )
    server.exit(report)
    out = capsys.readouterr().out
    assert (
        "    orphaned  ∅: 4\n"
        "    abandoned  : max_worker_restarts=2 exhausted\n"
        "\n"
        "    Failed Blocks:\n"
        "\n"
        "      block 7 in worker 4 with exception TimeoutError('lost: timed out after 2 s')\n"
        "      block 8 in an unknown worker with exception lost: connection closed\n"
        "\n"
        "    See worker logs for details:\n"
        "\n"
        "      /logs/A/worker_4.err / .out\n"
    ) in out
    assert out == monitor.summary_text()
    assert report.abandoned == {"A": "max_worker_restarts=2 exhausted"}
    assert not report.succeeded


def test_a_failure_without_logs_has_no_log_section(capsys):
    server = ReportingServer()
    CLMonitor(server)
    server.exit(
        _daisy.RunReport(
            {"A": counters(1, failed_count=1)}, [failure("A", 1, "RuntimeError('x')", 3)]
        )
    )
    out = capsys.readouterr().out
    assert "      block 1 in worker 3 with exception RuntimeError('x')\n" in out
    assert "See worker logs" not in out


def test_no_report_no_summary(capsys):
    # a server that has no report (a run that raised before the engine ran, another
    # observee) gets no summary: the monitor formats nothing itself
    server = ServerObservee()
    monitor = CLMonitor(server)
    server.notify_task_start("A", task_state(3, ready=3))
    server.notify_block_failure(FakeBlock("A", 1), RuntimeError("x"), Context(worker_id=3))
    server.notify_task_done("A", task_state(3, completed=2, failed=1))
    server.notify_server_exit()
    assert capsys.readouterr().out == ""
    assert monitor.summary_text() == ""
    # what the hooks saw is kept
    assert [f.block.block_id for f in monitor.summaries["A"].block_failures] == [("A", 1)]
    assert monitor.summaries["A"].block_failures[0].worker_id == 3


def test_run_blockwise_prints_the_reports_summary_serial(capsys):
    def process(block):
        if block.block_id[1] == 2:
            block.status = daisy.BlockStatus.FAILED

    task = daisy.Task(
        "S", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), process, max_retries=0
    )
    server = daisy.SerialServer()
    monitor = CLMonitor(server)
    server.run_blockwise([task])
    out = capsys.readouterr().out
    assert out == server.run_report.summary == monitor.summary_text()
    assert "      block 2 in an unknown worker with exception block released as FAILED\n" in out


def test_run_blockwise_prints_the_reports_summary_distributed(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(daisy_logging, "LOG_BASEDIR", tmp_path)
    task = daisy.Task(
        "D", Roi((0,), (4,)), Roi((0,), (1,)), Roi((0,), (1,)), lambda b: None, num_workers=1
    )
    server = daisy.Server()
    monitor = CLMonitor(server)
    server.run_blockwise([task])
    out = capsys.readouterr().out
    assert server.run_report.succeeded
    assert out == server.run_report.summary == monitor.summary_text()
    assert out.endswith("    all blocks processed successfully\n")


def test_interrupted_reports_do_not_succeed():
    assert _daisy.RunReport({"A": counters(1, completed_count=1)}).succeeded
    report = _daisy.RunReport({"A": counters(1, completed_count=1)}, interrupted=True)
    assert report.interrupted and not report.succeeded


def test_report_round_trips_its_parts():
    report = spec_report()
    assert list(report.counters) == ["A", "B"]
    assert report.counters["B"] == counters(9, completed_count=8, orphaned_count=1)
    assert report.failures[0] == failure("A", 3, "RuntimeError('boom')", 1, "daisy_logs/A/worker_1")
    again = _daisy.RunReport(report.counters, report.failures, report.abandoned, report.interrupted)
    assert again.summary == report.summary


def test_report_constructor_names_what_is_wrong():
    with pytest.raises(ValueError, match="not in counters"):
        _daisy.RunReport({"A": counters(1)}, [failure("B", 0, "x")])
    with pytest.raises(KeyError, match="spatial_id"):
        _daisy.RunReport({"A": counters(1)}, [dict(task_id="A")])
    with pytest.raises(ValueError, match="'C' is not in counters"):
        _daisy.RunReport({"A": counters(1)}, abandoned={"C": "why"})


# --- BlockBookkeeper ---------------------------------------------------------------------------------


class FakeStream:
    def __init__(self, name):
        self.name = name
        self.is_closed = False

    def closed(self):
        return self.is_closed

    def __repr__(self):
        return self.name


def test_bookkeeper_valid_return_sets_processing_times():
    bookkeeper = BlockBookkeeper()
    block, stream = FakeBlock("A", 1), FakeStream("s1")
    before = time.time()
    bookkeeper.notify_block_sent(block, stream)
    assert list(bookkeeper.sent_blocks) == [("A", 1)]
    assert bookkeeper.sent_blocks[("A", 1)].stream is stream
    assert bookkeeper.is_valid_return(block, stream)
    assert not bookkeeper.is_valid_return(block, FakeStream("s2"))
    bookkeeper.notify_block_returned(block, stream)
    after = time.time()
    assert before <= block.started_processing <= block.stopped_processing <= after
    assert bookkeeper.sent_blocks == {}
    assert not bookkeeper.is_valid_return(block, stream)


def test_bookkeeper_rejects_bad_returns_without_changes():
    bookkeeper = BlockBookkeeper()
    block = FakeBlock("A", 1)
    with pytest.raises(
        RuntimeError, match=r"Block A/1 was returned by s1, but is not in the list of sent blocks"
    ):
        bookkeeper.notify_block_returned(block, FakeStream("s1"))
    bookkeeper.notify_block_sent(block, FakeStream("s1"))
    with pytest.raises(RuntimeError, match=r"Block A/1 was returned by s2, but was sent to s1"):
        bookkeeper.notify_block_returned(block, FakeStream("s2"))
    assert ("A", 1) in bookkeeper.sent_blocks
    assert block.started_processing is None
    with pytest.raises(
        RuntimeError,
        match=r"Attempted to send block A/1, although it is already being processed by s1",
    ):
        bookkeeper.notify_block_sent(block, FakeStream("s3"))


def frozen_clock(monkeypatch):
    """Makes the bookkeeper's monotonic clock the returned list's only item, for tests to advance."""
    import daisy.block_bookkeeper as bookkeeper_module

    now = [1000.0]
    clock = types.SimpleNamespace(time=time.time, monotonic=lambda: now[0])
    monkeypatch.setattr(bookkeeper_module, "time", clock)
    return now


def test_bookkeeper_lost_blocks_closed_stream_and_timeout_each_once(monkeypatch):
    now = frozen_clock(monkeypatch)
    bookkeeper = BlockBookkeeper(processing_timeout=0.1)
    s1, s2 = FakeStream("s1"), FakeStream("s2")
    b1, b2, b3 = FakeBlock("A", 1), FakeBlock("A", 2), FakeBlock("B", 3)
    bookkeeper.notify_block_sent(b1, s1)
    bookkeeper.notify_block_sent(b2, s2)
    assert bookkeeper.get_lost_blocks() == []
    s1.is_closed = True
    assert bookkeeper.get_lost_blocks() == [b1]
    assert list(bookkeeper.sent_blocks) == [("A", 2)]
    now[0] += 0.09
    assert bookkeeper.get_lost_blocks() == []  # not yet timed out
    now[0] += 0.06
    bookkeeper.notify_block_sent(b3, s1)  # closed and (soon) timed out: reported once
    now[0] += 0.15
    lost = bookkeeper.get_lost_blocks()
    assert lost == [b2, b3]
    assert bookkeeper.sent_blocks == {}
    assert bookkeeper.get_lost_blocks() == []


def test_bookkeeper_without_timeout_never_times_out(monkeypatch):
    now = frozen_clock(monkeypatch)
    bookkeeper = BlockBookkeeper()
    bookkeeper.notify_block_sent(FakeBlock("A", 1), FakeStream("s"))
    now[0] += 365 * 24 * 3600.0
    assert bookkeeper.get_lost_blocks() == []


def test_bookkeeper_timeout_arguments():
    assert BlockBookkeeper(datetime.timedelta(seconds=2)).processing_timeout == 2.0
    assert BlockBookkeeper(3).processing_timeout == 3.0
    with pytest.raises(ValueError, match=r"processing_timeout must be positive, got -1"):
        BlockBookkeeper(-1)
    with pytest.raises(
        TypeError,
        match=r"processing_timeout must be a number of seconds, a datetime.timedelta or None, got '5'",
    ):
        BlockBookkeeper("5")


def test_bookkeeper_with_real_streams_loses_blocks_of_vanished_clients():
    server = TCPServer(host="127.0.0.1")
    try:
        client = TCPClient(*server.address)
        client.send_message(TCPMessage("hi"))
        stream = server.get_message(timeout=10).stream
        bookkeeper = BlockBookkeeper()
        block = FakeBlock("A", 5)
        bookkeeper.notify_block_sent(block, stream)
        assert bookkeeper.is_valid_return(block, stream)
        client.stream.close()  # the worker vanishes
        deadline = time.monotonic() + 10
        lost = []
        while not lost and time.monotonic() < deadline:
            lost = bookkeeper.get_lost_blocks()
            time.sleep(0.01)
        assert lost == [block]
    finally:
        server.close()
