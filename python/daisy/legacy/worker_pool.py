"""A set of worker processes running the same spawn function (docs/semantics.md#workers-and-daisy_context).

::

    pool = WorkerPool(spawn, context=Context(hostname=host, port=port, task_id="A"))
    pool.set_num_workers(4)      # four worker processes
    ...
    pool.check_for_errors()      # re-raises an exception a spawn function raised
    pool.reap_dead_workers()     # forgets crashed workers, so set_num_workers refills
    pool.stop()
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
from collections.abc import Callable
from typing import Any

from daisy.context import Context

from .worker import Worker

logger = logging.getLogger(__name__)

_FORK = multiprocessing.get_context("fork")

ERROR_QUEUE_SIZE = 100


def _check_count(function: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{function}(): {name} must be an int, got {value!r} of type {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(f"{function}(): {name} must be >= 0, got {value}")


class WorkerPool:
    """Worker processes running ``spawn_worker_function``, all with the same context.

    Args:
        spawn_worker_function: a callable without arguments, run in each worker process.
        context: the :class:`~daisy.Context` every worker gets (each adds its own
            ``worker_id``), or None.

    Attributes:
        workers: ``{worker_id: Worker}`` in start order. A worker that exited with code 0
            stays here (with ``process = None``) until the pool is stopped.
        workers_lock: guards ``workers``.
        error_queue: a ``multiprocessing`` queue (capacity 100) receiving exceptions
            raised by spawn functions.
        spawn_function, context: as given.
    """

    def __init__(
        self, spawn_worker_function: Callable[[], Any], context: Context | None = None
    ) -> None:
        if not callable(spawn_worker_function):
            raise TypeError(
                f"WorkerPool(): spawn_worker_function must be callable, got "
                f"{spawn_worker_function!r} of type {type(spawn_worker_function).__name__}"
            )
        self.spawn_function = spawn_worker_function
        self.context = context
        self.workers: dict[int, Worker] = {}
        self.workers_lock = threading.Lock()
        self.error_queue = _FORK.Queue(ERROR_QUEUE_SIZE)

    def set_num_workers(self, num_workers: int) -> None:
        """Starts or stops workers until there are ``num_workers`` entries.

        Stopping removes the youngest (last started) workers first. Workers kept after a
        normal exit count as entries.
        """
        _check_count("set_num_workers", "num_workers", num_workers)
        with self.workers_lock:
            diff = num_workers - len(self.workers)
            if diff > 0:
                self._start_workers(diff)
            elif diff < 0:
                self._stop_workers(-diff)

    def inc_num_workers(self, num_workers: int) -> None:
        """Starts ``num_workers`` more workers."""
        _check_count("inc_num_workers", "num_workers", num_workers)
        with self.workers_lock:
            self._start_workers(num_workers)

    def stop(self, worker_id: int | None = None) -> None:
        """Stops all workers, or only the one with ``worker_id`` (removing it).

        Raises:
            KeyError: there is no worker ``worker_id`` in this pool.
        """
        with self.workers_lock:
            if worker_id is None:
                self._stop_workers(len(self.workers))
                return
            if worker_id not in self.workers:
                raise KeyError(
                    f"stop(): no worker with worker_id={worker_id!r} in this pool "
                    f"(its workers: {list(self.workers)})"
                )
            self.workers[worker_id].stop()
            del self.workers[worker_id]

    def check_for_errors(self) -> None:
        """Re-raises the first exception a worker's spawn function raised, if any."""
        try:
            error = self.error_queue.get(block=False)
        except queue.Empty:
            return
        logger.debug("Got error from a worker: %r", error)
        raise error

    def reap_dead_workers(self) -> int:
        """Deals with workers whose process has ended; returns how many were removed.

        A worker that exited with a non-zero code is removed (so :meth:`set_num_workers`
        replaces it); one that exited with code 0 is kept with ``process = None`` (so it
        is not replaced). Entries are inspected only through ``entry.process`` and its
        ``is_alive()``, ``exitcode`` and ``pid``.
        """
        with self.workers_lock:
            dead: list[int] = []
            for worker_id, worker in self.workers.items():
                process = worker.process
                if process is None or process.is_alive():
                    continue
                if process.exitcode == 0:
                    logger.info(
                        "Worker %s (pid %s) exited normally; it is not replaced",
                        worker_id,
                        process.pid,
                    )
                    worker.process = None
                else:
                    logger.warning(
                        "Worker %s (pid %s) died with exit code %s",
                        worker_id,
                        process.pid,
                        process.exitcode,
                    )
                    dead.append(worker_id)
            for worker_id in dead:
                del self.workers[worker_id]
            return len(dead)

    def _start_workers(self, n: int) -> None:
        logger.debug("Starting %d new workers", n)
        for _ in range(n):
            worker = Worker(self.spawn_function, self.context, self.error_queue)
            self.workers[worker.worker_id] = worker

    def _stop_workers(self, n: int) -> None:
        if n <= 0:
            return
        logger.debug("Stopping %d workers", n)
        for worker_id in list(self.workers)[-n:]:
            self.workers[worker_id].stop()
            del self.workers[worker_id]


__all__ = ["WorkerPool"]
