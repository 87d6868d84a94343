"""Progress bars while a run goes, and daisy's Execution Summary at its end (docs/semantics.md#progress-and-the-execution-summary).

``run_blockwise`` attaches a :class:`CLMonitor` to its server. Each task gets a tqdm bar::

    A ▶:  40%|████      | 40/100 [00:02<00:03, 19.8blocks/s, ⧗=52, ▶=8, ✔=40, ✗=0, ∅=0]

(⧗ pending, ▶ processing, ✔ completed, ✗ failed, ∅ orphaned). When the run ends, the
monitor prints the engine's Execution Summary (every task's counts, the failed blocks and
where their workers' logs are): the ``summary`` of the ``run_report`` the server sets
before it tells its observers that it exits.
"""

import logging
import threading
import time
from typing import Any, cast

from tqdm.auto import tqdm

from .server_observer import ServerObserver


class TqdmLoggingHandler:
    """Wraps a logging handler so its lines are printed around the progress bars.

    Every attribute except the output path is forwarded to the wrapped handler, so code
    that changes the handler's level or formatter keeps working.
    """

    def __init__(self, handler: logging.Handler) -> None:
        self.handler = handler

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.handler, attr)

    def handle(self, record: logging.LogRecord) -> Any:
        rv = self.handler.filter(record)
        if isinstance(rv, logging.LogRecord):
            record = rv
        if rv:
            self.handler.acquire()
            try:
                self.emit(record)
            finally:
                self.handler.release()
        return rv

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.handler.format(record)
            tqdm.write(
                msg,
                file=getattr(self.handler, "stream", None),
                end=getattr(self.handler, "terminator", "\n"),
            )
        except RecursionError:
            raise
        except Exception:
            self.handler.handleError(record)


def _is_tty_stream_handler(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class BlockFailure:
    """One reported failure of a block, as the monitor's observer hook saw it."""

    def __init__(
        self, block: Any, exception: Any, worker_id: Any, log_basename: str | None = None
    ) -> None:
        self.block = block
        self.exception = exception
        self.worker_id = worker_id
        self.log_basename = log_basename

    def __repr__(self) -> str:
        return (
            f"BlockFailure(block={self.block!r}, exception={self.exception!r}, "
            f"worker_id={self.worker_id!r}, log_basename={self.log_basename!r})"
        )


class TaskSummary:
    """What the monitor saw of one task: its last state, its failures, why it was given up."""

    def __init__(self, task_id: str, state: Any) -> None:
        self.task_id = task_id
        self.state = state
        self.block_failures: list[BlockFailure] = []
        self.abandoned: str | None = None


def _context_get(context: Any, key: str) -> Any:
    if context is None:
        return None
    getter = getattr(context, "get", None)
    if getter is not None:
        return getter(key)
    try:
        return context[key]
    except (KeyError, TypeError, IndexError):
        return None


class CLMonitor(ServerObserver):
    """Shows a progress bar per task and prints the Execution Summary at the end.

    Registers itself with ``server`` (a :class:`~daisy.server_observer.ServerObservee`).
    On construction, every root-logger handler writing to a terminal is wrapped so that
    log lines do not break the bars.

    The summary is the engine's: when the server exits, the monitor prints the ``summary``
    of ``server.run_report`` (set by :class:`daisy.Server` and :class:`daisy.SerialServer`
    before they notify ``on_server_exit``); a server without a report (a run that raised
    before the engine ran, or another observee) gets no summary.

    Attributes:
        progresses: ``{task_id: tqdm}``, created at the task's first acquire or release.
        summaries: ``{task_id: TaskSummary}`` in the order tasks started: what the hooks saw.
        run_report: the server's ``run_report`` once the run is over, else None.
    """

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.server = server
        self.progresses: dict[str, Any] = {}
        self.summaries: dict[str, TaskSummary] = {}
        self.run_report: Any = None
        # When each task's bar last took the counts: formatting them for tqdm costs more than
        # the rest of a release, so they are handed over at tqdm's own redraw rate.
        self._last_show: dict[str, float] = {}
        # The latest counts a bar skipped, and the timer that hands them over once the
        # redraw interval has passed: without it a bar would show stale counts until the
        # next event (one block processing while two workers are busy, for as long as their
        # blocks take).
        self._skipped: dict[str, Any] = {}
        self._timers: dict[str, threading.Timer] = {}
        self.lock = threading.RLock()
        self._wrap_logging_handlers()

    def _wrap_logging_handlers(self) -> None:
        logger = logging.getLogger()
        for i, handler in enumerate(logger.handlers):
            if isinstance(handler, TqdmLoggingHandler):
                continue
            if _is_tty_stream_handler(handler):
                # A stand-in with the wrapped handler's whole interface (see __getattr__).
                logger.handlers[i] = cast(logging.Handler, TqdmLoggingHandler(handler))

    # hooks ----------------------------------------------------------------------------

    def on_task_start(self, task_id: str, task_state: Any) -> None:
        with self.lock:
            if task_id not in self.summaries:
                self.summaries[task_id] = TaskSummary(task_id, task_state)
            else:
                self.summaries[task_id].state = task_state

    def on_acquire_block(self, task_id: str, task_state: Any) -> None:
        self._update_state(task_id, task_state)

    def on_release_block(self, task_id: str, task_state: Any) -> None:
        self._update_state(task_id, task_state)

    def on_block_failure(self, block: Any, exception: Any, context: Any) -> None:
        """Records a failure; ``context`` gives ``worker_id`` (and may give ``log_basename``)."""
        task_id = block.block_id[0]
        failure = BlockFailure(
            block,
            exception,
            _context_get(context, "worker_id"),
            _context_get(context, "log_basename"),
        )
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                summary = self.summaries[task_id] = TaskSummary(task_id, None)
            summary.block_failures.append(failure)

    def on_task_done(self, task_id: str, task_state: Any) -> None:
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                self.summaries[task_id] = TaskSummary(task_id, task_state)
            else:
                summary.state = task_state
            self._cancel_timer(task_id)
            progress = self.progresses.get(task_id)
            if progress is None:
                return
            self._show(progress, task_state)
            if task_state.failed_count > 0:
                symbol = "✗"
            elif task_state.orphaned_count > 0:
                symbol = "∅"
            else:
                symbol = "✔"
            progress.set_description_str(f"{task_id} {symbol}")
            progress.close()

    def on_task_abandoned(self, task_id: str, task_state: Any, reason: str | None) -> None:
        """Records that a task was given up (the engine's summary says so, with the reason)."""
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                summary = self.summaries[task_id] = TaskSummary(task_id, task_state)
            elif task_state is not None:
                summary.state = task_state
            summary.abandoned = reason if reason else "abandoned"

    def on_server_exit(self) -> None:
        """Closes the bars and prints the engine's Execution Summary, if the server has one."""
        with self.lock:
            for task_id in list(self._timers):
                self._cancel_timer(task_id)
            for progress in self.progresses.values():
                progress.close()
            self.run_report = getattr(self.server, "run_report", None)
            text = self.summary_text()
            if text:
                print(text, end="", flush=True)

    # output ---------------------------------------------------------------------------

    def summary_text(self) -> str:
        """The engine's Execution Summary of the run, exactly as :meth:`on_server_exit`
        prints it ("" while the server has no ``run_report``)."""
        report = self.run_report
        if report is None:
            report = getattr(self.server, "run_report", None)
        return "" if report is None else str(report.summary)

    def _update_state(self, task_id: str, task_state: Any) -> None:
        with self.lock:
            progress = self.progresses.get(task_id)
            if progress is None:
                progress = self.progresses[task_id] = tqdm(
                    total=task_state.total_block_count,
                    desc=f"{task_id} ▶",
                    unit="blocks",
                    leave=True,
                )
            now = time.monotonic()
            waited = now - self._last_show.get(task_id, -progress.mininterval)
            if waited < progress.mininterval:
                # Too soon to redraw: keep the counts for the timer (one per bar at a time).
                self._skipped[task_id] = task_state
                if task_id not in self._timers:
                    timer = threading.Timer(
                        progress.mininterval - waited, self._show_skipped, (task_id,)
                    )
                    timer.daemon = True
                    self._timers[task_id] = timer
                    timer.start()
                return
            self._last_show[task_id] = now
            self._skipped.pop(task_id, None)
            self._show(progress, task_state)

    def _show_skipped(self, task_id: str) -> None:
        """Hands a bar the counts it skipped (the timer's thread)."""
        with self.lock:
            self._timers.pop(task_id, None)
            task_state = self._skipped.pop(task_id, None)
            progress = self.progresses.get(task_id)
            if task_state is None or progress is None or progress.disable:
                return
            self._last_show[task_id] = time.monotonic()
            self._show(progress, task_state)
            progress.refresh()

    def _cancel_timer(self, task_id: str) -> None:
        timer = self._timers.pop(task_id, None)
        if timer is not None:
            timer.cancel()
        self._skipped.pop(task_id, None)

    @staticmethod
    def _show(progress: Any, task_state: Any) -> None:
        progress.set_postfix(
            {
                "⧗": task_state.pending_count,
                "▶": task_state.processing_count,
                "✔": task_state.completed_count,
                "✗": task_state.failed_count,
                "∅": task_state.orphaned_count,
            },
            refresh=False,
        )
        delta = task_state.completed_count - progress.n
        if delta:
            progress.update(delta)  # redraws at most every `mininterval` (0.1 s)


__all__ = ["CLMonitor", "TqdmLoggingHandler", "BlockFailure", "TaskSummary"]
