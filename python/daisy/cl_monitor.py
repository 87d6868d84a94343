"""Progress bars while a run goes, and daisy's Execution Summary at its end (docs/semantics.md#progress-and-the-execution-summary).

``run_blockwise`` attaches a :class:`CLMonitor` to its server. Each task gets a tqdm bar::

    A ▶:  40%|████      | 40/100 [00:02<00:03, 19.8blocks/s, ⧗=52, ▶=8, ✔=40, ✗=0, ∅=0]

(⧗ pending, ▶ processing, ✔ completed, ✗ failed, ∅ orphaned). When the run ends, the
summary lists every task's counts, the failed blocks and where their workers' logs are.
"""

import logging
import threading

from tqdm.auto import tqdm

from . import logging as daisy_logging
from .server_observer import ServerObserver

MAX_FAILURE_LINES = 100
"""At most this many "Failed Blocks" lines per task, then ``(and N more)``."""

MAX_LOG_LINES = 10
"""At most this many worker log lines per task, then ``...``."""


class TqdmLoggingHandler:
    """Wraps a logging handler so its lines are printed around the progress bars.

    Every attribute except the output path is forwarded to the wrapped handler, so code
    that changes the handler's level or formatter keeps working.
    """

    def __init__(self, handler):
        self.handler = handler

    def __getattr__(self, attr):
        return getattr(self.handler, attr)

    def handle(self, record):
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

    def emit(self, record):
        try:
            msg = self.handler.format(record)
            tqdm.write(msg, file=self.handler.stream, end=getattr(self.handler, "terminator", "\n"))
        except RecursionError:
            raise
        except Exception:
            self.handler.handleError(record)


def _is_tty_stream_handler(handler):
    stream = getattr(handler, "stream", None)
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


class BlockFailure:
    """One reported failure of a block."""

    def __init__(self, block, exception, worker_id, log_basename):
        self.block = block
        self.exception = exception
        self.worker_id = worker_id
        self.log_basename = log_basename

    def __repr__(self):
        # The engine reports errors as text that already is an exception repr.
        exception = self.exception if isinstance(self.exception, str) else repr(self.exception)
        return f"block {self.block.block_id[1]} in worker {self.worker_id} with exception {exception}"


class TaskSummary:
    """What the summary says about one task."""

    def __init__(self, task_id, state):
        self.task_id = task_id
        self.state = state
        self.block_failures = []
        self.abandoned = None


def _context_get(context, key):
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

    Attributes:
        progresses: ``{task_id: tqdm}``, created at the task's first acquire or release.
        summaries: ``{task_id: TaskSummary}`` in the order tasks started.
    """

    def __init__(self, server):
        super().__init__(server)
        self.progresses = {}
        self.summaries = {}
        self.lock = threading.RLock()
        self._wrap_logging_handlers()

    def _wrap_logging_handlers(self):
        logger = logging.getLogger()
        for i, handler in enumerate(logger.handlers):
            if isinstance(handler, TqdmLoggingHandler):
                continue
            if _is_tty_stream_handler(handler):
                logger.handlers[i] = TqdmLoggingHandler(handler)

    # hooks ----------------------------------------------------------------------------

    def on_task_start(self, task_id, task_state):
        with self.lock:
            if task_id not in self.summaries:
                self.summaries[task_id] = TaskSummary(task_id, task_state)
            else:
                self.summaries[task_id].state = task_state

    def on_acquire_block(self, task_id, task_state):
        self._update_state(task_id, task_state)

    def on_release_block(self, task_id, task_state):
        self._update_state(task_id, task_state)

    def on_block_failure(self, block, exception, context):
        """Records a failure; ``context`` gives ``worker_id`` (and may give ``log_basename``).

        ``exception`` is an exception (printed with ``repr``) or a text that already is one.
        """
        task_id = block.block_id[0]
        worker_id = _context_get(context, "worker_id")
        if context is not None and _has_key(context, "log_basename"):
            log_basename = _context_get(context, "log_basename")
        elif worker_id is None:
            log_basename = None
        else:
            log_basename = daisy_logging.get_worker_log_basename(worker_id, task_id)
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                summary = self.summaries[task_id] = TaskSummary(task_id, None)
            summary.block_failures.append(BlockFailure(block, exception, worker_id, log_basename))

    def on_task_done(self, task_id, task_state):
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                self.summaries[task_id] = TaskSummary(task_id, task_state)
            else:
                summary.state = task_state
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

    def on_task_abandoned(self, task_id, task_state, reason):
        """Records that a task was given up; the summary says so, with ``reason``."""
        with self.lock:
            summary = self.summaries.get(task_id)
            if summary is None:
                summary = self.summaries[task_id] = TaskSummary(task_id, task_state)
            elif task_state is not None:
                summary.state = task_state
            summary.abandoned = reason if reason else "abandoned"

    def on_server_exit(self):
        with self.lock:
            for progress in self.progresses.values():
                progress.close()
            print(self.summary_text(), end="", flush=True)

    # output ---------------------------------------------------------------------------

    def summary_text(self):
        """The Execution Summary, exactly as :meth:`on_server_exit` prints it."""
        lines = ["", "Execution Summary", "-----------------"]
        for task_id, summary in self.summaries.items():
            state = summary.state
            lines += ["", f"  Task {task_id}:", ""]
            if state is not None:
                lines += [
                    f"    num blocks : {state.total_block_count}",
                    f"    completed ✔: {state.completed_count} (skipped {state.skipped_count})",
                    f"    failed    ✗: {state.failed_count}",
                    f"    orphaned  ∅: {state.orphaned_count}",
                ]
            if summary.abandoned is not None:
                lines.append(f"    abandoned  : {summary.abandoned}")
            lines.append("")

            failures = summary.block_failures
            if failures:
                lines += ["    Failed Blocks:", ""]
                lines += [f"      {failure!r}" for failure in failures[:MAX_FAILURE_LINES]]
                if len(failures) > MAX_FAILURE_LINES:
                    lines.append(f"      (and {len(failures) - MAX_FAILURE_LINES} more)")
                logs = [f.log_basename for f in failures if f.log_basename is not None]
                if logs:
                    lines += ["", "    See worker logs for details:", ""]
                    lines += [f"      {basename}.err / .out" for basename in logs[:MAX_LOG_LINES]]
                    if len(logs) > MAX_LOG_LINES:
                        lines.append("      ...")

            if state is not None and state.completed_count == state.total_block_count:
                lines.append("    all blocks processed successfully")
        return "\n".join(lines) + "\n"

    def _update_state(self, task_id, task_state):
        with self.lock:
            progress = self.progresses.get(task_id)
            if progress is None:
                progress = self.progresses[task_id] = tqdm(
                    total=task_state.total_block_count,
                    desc=f"{task_id} ▶",
                    unit="blocks",
                    leave=True,
                )
            self._show(progress, task_state)

    @staticmethod
    def _show(progress, task_state):
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


def _has_key(context, key):
    try:
        return key in context
    except TypeError:
        return False


__all__ = ["CLMonitor", "TqdmLoggingHandler", "BlockFailure", "TaskSummary"]
