"""One :class:`~daisy.WorkerPool` per task of a run (daisy 1.x's ``TaskWorkerPools``).

::

    pools = TaskWorkerPools(tasks, server)      # server: .hostname, .port
    pools.recruit_workers({t.task_id: t for t in ready_tasks})
    ...
    pools.check_worker_health()                 # re-raises worker errors, reaps crashed workers
    pools.stop()

Worker starts beyond a task's first ``num_workers`` are replacements; they count against
the task's ``max_worker_restarts`` (by default the engine's
``DEFAULT_MAX_WORKER_RESTARTS``, docs/semantics.md#worker-restarts), and none is started once
the budget is used up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from daisy._daisy import DEFAULT_MAX_WORKER_RESTARTS
from daisy.context import Context
from daisy.server_observer import ServerObserver

from .worker_pool import WorkerPool

logger = logging.getLogger(__name__)


class TaskWorkerPools(ServerObserver):
    """The worker pools of a run, one per task.

    Args:
        tasks: the tasks (objects with ``task_id``, ``spawn_worker_function``,
            ``num_workers`` and optionally ``max_worker_restarts``).
        server: the server the workers connect to (``hostname`` and ``port``). If it is
            observable, this object registers to learn about block failures.
        max_block_failures: a worker that reported more block failures than this is
            replaced (counted as a restart); None never replaces it.

    Attributes:
        worker_pools: ``{task_id: WorkerPool}``.
        workers_started: ``{task_id: number of workers started so far}``.
        restarts: ``{task_id: number of replacement workers started so far}``.
        failure_counts: ``{task_id: {worker_id: block failures}}``.
    """

    def __init__(
        self, tasks: Iterable[Any], server: Any, max_block_failures: int | None = 3
    ) -> None:
        if hasattr(server, "register_observer"):
            super().__init__(server)
        self.tasks = list(tasks)
        self.server = server
        self.max_block_failures = max_block_failures
        self.worker_pools: dict[str, WorkerPool] = {}
        for task in self.tasks:
            context = Context(hostname=server.hostname, port=server.port, task_id=task.task_id)
            self.worker_pools[task.task_id] = WorkerPool(task.spawn_worker_function, context)
        self.workers_started = {task_id: 0 for task_id in self.worker_pools}
        self.restarts = {task_id: 0 for task_id in self.worker_pools}
        self.failure_counts: dict[str, dict[int, int]] = {}

    @staticmethod
    def _budget(task: Any) -> int:
        budget = getattr(task, "max_worker_restarts", DEFAULT_MAX_WORKER_RESTARTS)
        return DEFAULT_MAX_WORKER_RESTARTS if budget is None else int(budget)

    def restarts_left(self, task: Any) -> int:
        """How many replacement workers ``task`` may still get."""
        return max(0, self._budget(task) - self.restarts[task.task_id])

    def recruit_workers(self, tasks: Mapping[str, Any]) -> None:
        """Brings the pool of every task in ``tasks`` (``{task_id: Task}``) to ``num_workers``.

        The first ``num_workers`` starts of a task are free; later starts replace workers
        and are limited by ``max_worker_restarts``.
        """
        for task_id, pool in self.worker_pools.items():
            if task_id not in tasks:
                continue
            task = tasks[task_id]
            with pool.workers_lock:
                missing = task.num_workers - len(pool.workers)
            if missing <= 0:
                continue
            first = min(missing, max(0, task.num_workers - self.workers_started[task_id]))
            replacements = min(missing - first, self.restarts_left(task))
            if missing - first > replacements:
                logger.warning(
                    "Task %s: not replacing %d worker(s), max_worker_restarts=%s is used up",
                    task_id,
                    missing - first - replacements,
                    self._budget(task),
                )
            self._start(task_id, first, replacements)

    def _start(self, task_id: str, first: int, replacements: int) -> None:
        n = first + replacements
        if n <= 0:
            return
        logger.debug("Task %s: starting %d worker(s) (%d replacements)", task_id, n, replacements)
        self.worker_pools[task_id].inc_num_workers(n)
        self.workers_started[task_id] += n
        self.restarts[task_id] += replacements

    def stop(self) -> None:
        """Stops every worker of every task."""
        logger.debug("Stopping all workers")
        for pool in self.worker_pools.values():
            pool.stop()

    def check_worker_health(self) -> int:
        """Re-raises the first error of a spawn function and reaps ended workers.

        Returns the number of workers removed because they died (non-zero exit code);
        the next :meth:`recruit_workers` replaces them within the restart budget.
        """
        removed = 0
        for pool in self.worker_pools.values():
            pool.check_for_errors()
            removed += pool.reap_dead_workers()
        return removed

    def on_block_failure(self, block: Any, exception: BaseException, context: Any) -> None:
        """Counts the failure; replaces a worker after more than ``max_block_failures``."""
        if context is None or self.max_block_failures is None:
            return
        task_id = context.get("task_id") if hasattr(context, "get") else None
        if task_id is None:
            task_id = block.block_id[0]
        try:
            worker_id = int(context["worker_id"])
        except (KeyError, TypeError, ValueError):
            return
        counts = self.failure_counts.setdefault(task_id, {})
        counts[worker_id] = counts.get(worker_id, 0) + 1
        if counts[worker_id] <= self.max_block_failures:
            return
        pool = self.worker_pools.get(task_id)
        task = next((t for t in self.tasks if t.task_id == task_id), None)
        if pool is None or task is None or worker_id not in pool.workers:
            return
        if self.restarts_left(task) <= 0:
            logger.warning(
                "Worker %s of task %s failed %d blocks; not replacing it, "
                "max_worker_restarts=%s is used up",
                worker_id,
                task_id,
                counts[worker_id],
                self._budget(task),
            )
            return
        logger.error(
            "Worker %s failed too many blocks (%d), restarting it", context, counts[worker_id]
        )
        pool.stop(worker_id)
        self._start(task_id, 0, 1)


__all__ = ["TaskWorkerPools"]
