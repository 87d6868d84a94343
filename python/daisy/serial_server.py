"""Running tasks in the calling process, one block at a time (docs/semantics.md#run_blockwise).

The loop is the engine's (``_daisy.run_serial``); this module hands it the block functions
and forwards its events to the observers.
"""

import logging
from collections.abc import Sequence
from typing import Any

from . import _daisy
from .context import Context
from .errors import TaskError
from .scheduler import Scheduler
from .server_observer import ServerObservee
from .task import Task, _collect_tasks
from .task_state import TaskState, _observed_state

logger = logging.getLogger(__name__)

__all__ = ["SerialServer"]


class SerialServer(ServerObservee):
    """Runs the blocks of tasks in the calling process, for debugging.

    No sockets and no processes: every block function is called directly, so a debugger
    or a breakpoint works, and an exception raised by a block function (or by an observer
    hook) stops the run and propagates unchanged. A block whose function leaves its status
    FAILED, or whose post-check fails, is a failure and is retried as in a distributed run.
    ``init_callback_fn`` is not called and timeouts are not enforced. Tasks with a spawn
    function (no argument) cannot run this way. A task whose first block attempts all fail
    is given up as in a distributed run (docs/semantics.md#progress-and-the-execution-summary). Ctrl-C stops
    the run: ``run_report`` then says it was interrupted (observers see it in
    ``on_server_exit``) and the ``KeyboardInterrupt`` propagates.

    Observers get the hooks of :class:`daisy.server_observer.ServerObserver`; their
    ``task_state`` arguments hold the counts at the time of the event (read the
    Scheduler's live ``task_states`` after the run).

    Attributes:
        scheduler: the :class:`daisy.Scheduler` of the last run.
        run_report: the engine's report of the last run (its ``summary`` is the Execution
            Summary, ``succeeded`` says whether every block succeeded or was skipped); after
            Ctrl-C the report of the run until then (``interrupted``); None before a run and
            after a run that raised anything else.
    """

    def __init__(self) -> None:
        super().__init__()
        self.scheduler: Scheduler | None = None
        self.run_report: _daisy.RunReport | None = None

    def run_blockwise(
        self, tasks: Task | Sequence[Task], scheduler: Scheduler | None = None
    ) -> dict[str, TaskState]:
        """Runs the tasks, with their upstream tasks; returns ``{task_id: TaskState}``.

        With ``scheduler``, its tasks are run (and its ``task_states`` returned).
        """
        all_tasks = _collect_tasks(tasks, scheduler)
        for task in all_tasks:
            if getattr(task, "_is_spawn_function", False):
                raise TaskError(
                    f"task {task.task_id!r} cannot run serially: its process_function "
                    f"{task.process_function!r} takes no block argument (it is a spawn "
                    "function that starts workers); use multiprocessing=True"
                )
        if scheduler is None:
            scheduler = Scheduler(all_tasks)
        self.scheduler = scheduler
        self.run_report = None
        functions = {task_id: task.process_function for task_id, task in scheduler.task_map.items()}
        try:
            self.run_report = _daisy.run_serial(scheduler._scheduler, functions, _Forward(self))
        except KeyboardInterrupt as interrupt:
            # The engine hands the report of the run until the interrupt along with it.
            self.run_report = getattr(interrupt, "run_report", None)
            raise
        finally:
            self.notify_server_exit()
        return scheduler.task_states


class _Forward:
    """The engine's serial-run hooks, forwarded to the server's observers with TaskStates."""

    def __init__(self, server: SerialServer) -> None:
        self._server = server
        self._states: dict[str, TaskState] = {}

    def _state(self, task_id: str, counters: _daisy.Counters) -> TaskState:
        return _observed_state(self._states, task_id, counters)

    def on_task_start(self, task_id: str, counters: _daisy.Counters) -> None:
        self._server.notify_task_start(task_id, self._state(task_id, counters))

    def on_acquire_block(self, task_id: str, counters: _daisy.Counters) -> None:
        self._server.notify_acquire_block(task_id, self._state(task_id, counters))

    def on_release_block(self, task_id: str, counters: _daisy.Counters) -> None:
        self._server.notify_release_block(task_id, self._state(task_id, counters))

    def on_task_done(self, task_id: str, counters: _daisy.Counters) -> None:
        self._server.notify_task_done(task_id, self._state(task_id, counters))

    def on_task_abandoned(self, task_id: str, counters: _daisy.Counters, reason: str) -> None:
        self._server.notify_task_abandoned(task_id, self._state(task_id, counters), reason)

    def on_block_failure(self, block: Any, error: str) -> None:
        context = Context(task_id=block.block_id[0], worker_id=None, log_basename=None)
        self._server.notify_block_failure(block, RuntimeError(error), context)
