"""Failures users can read, and a task that cannot succeed stops early
(docs/semantics.md#progress-and-the-execution-summary).

Each test is named after the defect it guards against; distributed runs use real worker
processes forked by the server.
"""

import logging
import textwrap
import time
from pathlib import Path

import pytest
from helpers import interrupted_script, line

import daisy
from daisy import BlockStatus, Roi


def fail_with_block_id(block):
    """A block function that can never work: its error names the block."""
    raise RuntimeError(f"no such file: data/{block.block_id[1]}.npy")


def block_failure_records(caplog):
    """The log records about single block failures (first occurrences and repeat counts)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage().startswith(("Block ", "... the error of block "))
    ]


def test_a_task_whose_blocks_all_fail_stops_early_and_logs_the_error_once(in_tmp_dir, caplog):
    caplog.set_level(logging.ERROR)
    task = line(1000, fail_with_block_id, task_id="fails", num_workers=2)
    downstream = line(1000, task_id="after", upstream_tasks=[task])
    server = daisy.Server()
    start = time.monotonic()
    states = server.run_blockwise([downstream])
    elapsed = time.monotonic() - start
    report = server.run_report
    assert not report.succeeded
    state = states["fails"]
    assert state.completed_count == 0
    assert state.failed_count + state.orphaned_count == 1000
    # The default limit, (max_retries + 1) * max(10, 2 * num_workers) = 30 attempts, plus the
    # blocks the two workers held when it was reached; not 3000 attempts.
    assert task._flat_spec().max_failures_before_success == 30
    assert 30 <= len(report.failures) < 100, len(report.failures)
    assert states["after"].orphaned_count == 1000
    reason = report.abandoned["fails"]
    assert reason.startswith(
        "the first 30 block attempts all failed and none succeeded "
        "(max_failures_before_success=30); the last error: RuntimeError('no such file: data/"
    ), reason
    assert elapsed < 30
    # The error is logged once with its worker's log file, then counted.
    logged = block_failure_records(caplog)
    assert logged[0].startswith("Block fails/"), logged
    assert "with RuntimeError('no such file: data/" in logged[0]
    assert "(its log: " in logged[0] and ".err)" in logged[0]
    assert len(logged) <= 3, logged
    assert logged[-1].startswith("... the error of block fails/"), logged
    assert any(m.startswith("abandoning task fails: the first 30") for m in caplog.messages)
    # The summary groups the failures: one entry for the one error.
    summary = report.summary
    assert f"    abandoned  : {reason}\n" in summary
    entries = [ln for ln in summary.splitlines() if ln.startswith("      block ")]
    assert len(entries) == 1, summary
    assert f"more like it ({len(report.failures)} in all, of blocks " in summary
    assert len(summary.splitlines()) < 50, summary


def test_max_failures_before_success_zero_runs_every_retry_of_every_block(in_tmp_dir, caplog):
    caplog.set_level(logging.ERROR)
    task = line(
        20,
        fail_with_block_id,
        task_id="stubborn",
        num_workers=2,
        max_retries=1,
        max_failures_before_success=0,
    )
    assert task._flat_spec().max_failures_before_success == 0
    server = daisy.Server()
    states = server.run_blockwise([task])
    assert states["stubborn"].failed_count == 20
    assert len(server.run_report.failures) == 40
    assert server.run_report.abandoned == {}
    # Forty failures, one error: logged once, then one count at the end.
    logged = block_failure_records(caplog)
    assert len(logged) == 2, logged
    assert logged[1].endswith("happened 39 more times, last in block " + logged[1].split()[-1])


def test_one_success_keeps_a_mostly_failing_task_going(in_tmp_dir):
    def process(block):
        if block.block_id[1] != 0:
            fail_with_block_id(block)

    task = line(40, process, task_id="mostly", max_retries=0)
    states = daisy.Server().run_blockwise([task])
    # Block 0 is handed out first and succeeds: the rule never fires.
    assert (states["mostly"].completed_count, states["mostly"].failed_count) == (1, 39)


def test_summary_names_the_err_log_then_the_out_log_of_a_failed_block(in_tmp_dir):
    task = line(1, fail_with_block_id, task_id="logs", max_retries=0)
    server = daisy.Server()
    server.run_blockwise([task])
    summary = server.run_report.summary
    logs = [ln.strip() for ln in summary.splitlines() if ln.endswith(" / .out")]
    assert len(logs) == 1, summary
    err_file = logs[0].removesuffix(" / .out")
    assert err_file.endswith(".err") and ".out / .out" not in summary, summary
    # The files it names are the worker's (relative paths: to the run's directory).
    assert Path(err_file).is_file() and Path(err_file).with_suffix(".out").is_file()


def test_a_serial_task_whose_blocks_all_fail_stops_early(in_tmp_dir):
    def process(block):
        block.status = BlockStatus.FAILED

    abandoned = []

    class Watch(daisy.server_observer.ServerObserver):
        def on_task_abandoned(self, task_id, task_state, reason):
            abandoned.append((task_id, task_state.orphaned_count, reason))

    task = line(500, process, task_id="serial", max_retries=0, max_failures_before_success=5)
    server = daisy.SerialServer()
    Watch(server)
    states = server.run_blockwise([task])
    assert (states["serial"].failed_count, states["serial"].orphaned_count) == (5, 495)
    reason = (
        "the first 5 block attempts all failed and none succeeded "
        "(max_failures_before_success=5); the last error: block released as FAILED"
    )
    assert abandoned == [("serial", 495, reason)]
    assert server.run_report.abandoned == {"serial": reason}
    assert f"    abandoned  : {reason}\n" in server.run_report.summary


def test_max_failures_before_success_must_be_a_count():
    with pytest.raises(daisy.TaskError, match="max_failures_before_success"):
        line(1, max_failures_before_success=-1)
    assert line(1, num_workers=8, max_retries=4)._flat_spec().max_failures_before_success == 80


def test_acquire_block_of_an_unknown_task_raises_unknown_task_error():
    scheduler = daisy.Scheduler([line(2)])
    with pytest.raises(daisy.UnknownTaskError, match="unknown task 'nope'") as raised:
        scheduler.acquire_block("nope")
    assert isinstance(raised.value, KeyError)
    block = scheduler.acquire_block("t")
    assert block is not None
    stranger = daisy.Block(Roi((0,), (2,)), Roi((0,), (1,)), Roi((0,), (1,)), task_id="nope")
    stranger.status = BlockStatus.SUCCESS
    with pytest.raises(daisy.UnknownTaskError, match="unknown task 'nope'"):
        scheduler.release_block(stranger)
    with pytest.raises(daisy.UnknownTaskError):
        scheduler._abandon_task("nope")
    with pytest.raises(daisy.UnknownTaskError):
        scheduler._scheduler.counters("nope")
    # Nothing changed: the real block is still out, the other one still ready.
    assert scheduler.task_states["t"].processing_count == 1
    assert scheduler.acquire_block("t") is not None
    assert scheduler.acquire_block("t") is None


CTRL_C_SERIAL = textwrap.dedent(
    """
    import time
    import daisy

    def process(block):
        open("started", "w").close()  # a block is running: Ctrl-C may come
        time.sleep(0.1)

    task = daisy.Task("slow", daisy.Roi((0,), (1000,)), daisy.Roi((0,), (1,)),
                      daisy.Roi((0,), (1,)), process)
    try:
        daisy.run_blockwise([task], multiprocessing=False)
    except KeyboardInterrupt:
        print("raised KeyboardInterrupt", flush=True)
    """
)


def test_ctrl_c_during_a_serial_run_prints_an_interrupted_summary(tmp_path):
    out = interrupted_script(tmp_path, CTRL_C_SERIAL)
    assert out.count("Execution Summary") == 1, out
    summary = out[out.index("Execution Summary") :]
    assert "The run was interrupted before every block was processed." in summary, out
    assert out.rstrip().endswith("raised KeyboardInterrupt"), out
