"""One worker process running a spawn function (docs/semantics.md#workers-and-daisy_context).

::

    def spawn():
        subprocess.run(["python", "predict.py"])   # uses daisy.Client() with DAISY_CONTEXT

    worker = Worker(spawn, context=Context(hostname="10.1.2.3", port=43125, task_id="predict"))
    # started: a new process, DAISY_CONTEXT set, output in daisy_logs/predict/worker_<id>.out/.err
    worker.stop()

Worker processes are created with the ``fork`` start method, so the spawn function may be
any callable (lambdas and closures included) and need not be picklable.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

from daisy import logging as daisy_logging
from daisy.context import Context

from .messages.remote_exception import transportable_exception

logger = logging.getLogger(__name__)

_FORK = multiprocessing.get_context("fork")

_worker_ids = itertools.count()
_worker_ids_lock = threading.Lock()

STOP_GRACE = 5.0
"""Seconds :meth:`Worker.stop` waits after SIGTERM before it sends SIGKILL."""


def next_worker_id() -> int:
    """Returns the next worker ID of this process: 0 for the first worker ever, then 1, 2, …

    One counter per process, shared by every :class:`Worker` and
    :class:`~daisy.WorkerPool`, never reset.
    """
    with _worker_ids_lock:
        return next(_worker_ids)


class Worker:
    """A worker process, started on construction.

    Args:
        spawn_function: a callable taking no arguments, run in the worker process.
        context: the :class:`~daisy.Context` to hand to the worker (copied; ``worker_id``
            is added). A default ``Context()`` if None.
        error_queue: a ``multiprocessing`` queue that receives an exception the spawn
            function raises (see :meth:`WorkerPool.check_for_errors`), or None.

    Attributes:
        worker_id: this worker's ID (:func:`next_worker_id`).
        context: the worker's context, including ``worker_id``.
        process: the ``multiprocessing`` process, or None when stopped (or reaped after a
            normal exit by a :class:`~daisy.WorkerPool`).
        spawn_function, error_queue: as given.

    In the worker process, before ``spawn_function`` runs, ``DAISY_CONTEXT`` is set to the
    context, the log base directory is set from ``context["logdir"]``, and stdout/stderr
    are redirected to ``<logdir>/<task_id>/worker_<worker_id>.out/.err``. If the spawn
    function raises an ``Exception``, its traceback goes to the ``.err`` file, the
    exception (or a stand-in with the same ``repr()`` if it cannot be pickled) is put on
    ``error_queue`` and the process exits with code 1. ``KeyboardInterrupt`` ends the
    process quietly (code 0).
    """

    def __init__(
        self,
        spawn_function: Callable[[], Any],
        context: Context | None = None,
        error_queue: Any = None,
    ) -> None:
        if not callable(spawn_function):
            raise TypeError(
                f"Worker(): spawn_function must be callable, got {spawn_function!r} "
                f"of type {type(spawn_function).__name__}"
            )
        if context is not None and not isinstance(context, Context):
            raise TypeError(
                f"Worker(): context must be a daisy.Context or None, got {context!r} "
                f"of type {type(context).__name__}"
            )
        self.spawn_function = spawn_function
        self.worker_id = next_worker_id()
        self.context = Context() if context is None else context.copy()
        self.context["worker_id"] = self.worker_id
        self.error_queue = error_queue
        self.process: BaseProcess | None = None
        self.start()

    def start(self) -> None:
        """Starts the worker process (a no-op while it has one)."""
        if self.process is not None:
            return
        logger.debug(
            "Starting worker %s with spawn function %s and context %s",
            self.worker_id,
            self.spawn_function,
            self.context,
        )
        process = _FORK.Process(target=self._spawn_wrapper, name=f"daisy-worker-{self.worker_id}")
        process.start()
        self.process = process

    def stop(self) -> None:
        """Terminates the worker process and waits for it; ``process`` becomes None.

        The process gets SIGTERM, and SIGKILL if it is still alive after
        :data:`STOP_GRACE` seconds.
        """
        process = self.process
        if process is None:
            return
        logger.debug("Terminating worker %s", self.worker_id)
        if process.is_alive():
            process.terminate()
            process.join(STOP_GRACE)
            if process.is_alive():
                logger.warning(
                    "Worker %s (pid %s) ignored SIGTERM for %s s, killing it",
                    self.worker_id,
                    process.pid,
                    STOP_GRACE,
                )
                process.kill()
        process.join()
        self.process = None

    def _spawn_wrapper(self) -> None:
        """Runs in the worker process."""
        signal.signal(signal.SIGINT, signal.default_int_handler)
        # The I/O threads of daisy.tcp objects of the parent do not exist here.
        from .tcp.io_looper import IOLooper

        IOLooper.clear()
        try:
            os.environ[Context.ENV_VARIABLE] = self.context.to_env()
            daisy_logging.set_log_basedir(self.context.get("logdir"))
            basename = daisy_logging.get_worker_log_basename(
                self.worker_id, self.context.get("task_id")
            )
            daisy_logging.redirect_stdouterr(basename)
            self.spawn_function()
        except KeyboardInterrupt:
            logger.debug("Worker %s received ^C", self.worker_id)
        except Exception as e:
            print(f"Worker {self.worker_id} failed:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            if self.error_queue is not None:
                try:
                    self.error_queue.put(transportable_exception(e), timeout=1)
                except queue.Full:
                    print(
                        f"{self!r} failed, but its error queue is full; the error is lost",
                        file=sys.stderr,
                    )
            sys.stderr.flush()
            raise SystemExit(1) from None

    def __repr__(self) -> str:
        return f"worker ({self.context})"


__all__ = ["Worker", "next_worker_id"]


if __name__ == "__main__":  # pragma: no cover  (python -m daisy.worker: a worker started elsewhere)
    from daisy.function_worker import main

    sys.exit(main())
