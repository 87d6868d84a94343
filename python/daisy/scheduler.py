"""The in-process scheduler (docs/semantics.md#scheduling)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import _daisy
from .block import Block
from .dependency_graph import DependencyGraph
from .task import Task, _task_graph
from .task_state import TaskState, _LiveTaskState

__all__ = ["Scheduler"]


class Scheduler:
    """The main scheduler that tracks the states of tasks.

    The Scheduler takes a list of tasks, and upon request provides the next block
    available for processing::

        scheduler = daisy.Scheduler([task])
        while (block := scheduler.acquire_block(task.task_id)) is not None:
            process(block)
            block.status = daisy.BlockStatus.SUCCESS
            scheduler.release_block(block)

    Args:

        tasks (list of :class:`daisy.Task`):
            The tasks to schedule. Their upstream tasks are added recursively.

        count_all_orphans (``bool``):
            Whether to count every orphan at the moment a block fails permanently. With
            False, blocks not yet identified as orphans count as pending until the run
            is quiescent, when they are counted as orphaned.

    Attributes:

        task_map: task ID -> Task.
        task_states: task ID -> :class:`daisy.task_state.TaskState`, root tasks first. The
            states always show the current counts.
        dependency_graph: the :class:`daisy.DependencyGraph` of the tasks.
        count_all_orphans: as given.
    """

    def __init__(self, tasks: Task | Iterable[Task], count_all_orphans: bool = True) -> None:
        task_map, specs = _task_graph(tasks)

        self.count_all_orphans = bool(count_all_orphans)
        self._scheduler = _daisy.Scheduler(specs, self.count_all_orphans)
        task_ids = list(self._scheduler.task_ids())
        self.task_map = {task_id: task_map[task_id] for task_id in task_ids}
        self.task_states: dict[str, TaskState] = {
            task_id: _LiveTaskState(self._scheduler, task_id) for task_id in task_ids
        }
        self._dependency_graph: DependencyGraph | None = None
        self._task_queues: dict[str, _QueueView] | None = None

        # The hot path: with no subclass override, acquire_block is the engine's method.
        if type(self).acquire_block is Scheduler.acquire_block:
            self.acquire_block = self._scheduler.acquire_block  # type: ignore[method-assign]

    def acquire_block(self, task_id: str) -> Block | None:
        """The next ready block of a task (status CREATED), or None if none is ready.

        Runs the task's pre-check first: blocks it reports as done are skipped (counted as
        completed and skipped) and the next block is tried. A task whose first block
        attempts all failed is given up (``max_failures_before_success`` of
        :class:`daisy.Task`): nothing more of it is handed out.

        Raises :class:`daisy.UnknownTaskError` (a ``KeyError``) for a task ID the scheduler
        does not know.
        """
        return self._scheduler.acquire_block(task_id)

    def release_block(self, block: Block) -> dict[str, TaskState]:
        """Returns a block handed out by :meth:`acquire_block`.

        Its ``status`` must be SUCCESS or FAILED. A failed block is queued again until it
        failed ``max_retries + 1`` times; then it and every block depending on it are
        given up (failed / orphaned).

        Returns ``{task_id: TaskState}`` for the tasks that got new ready blocks.
        Raises :class:`daisy.UnknownTaskError` (a ``KeyError``) if the block's task is not
        scheduled here, :class:`daisy.BlockNotProcessingError` (a ``KeyError``) if the block
        is not being processed, and :class:`daisy.BlockStatusError` (a ``RuntimeError``) for
        any other status; nothing changes then.
        """
        task_ids = self._scheduler.release_block(block)
        if not task_ids:
            return {}
        states = self.task_states
        return {task_id: states[task_id] for task_id in task_ids}

    def get_ready_tasks(self) -> list[Task]:
        """The tasks with ready blocks, root tasks first."""
        task_map = self.task_map
        return [task_map[task_id] for task_id in self._scheduler.ready_task_ids()]

    @property
    def dependency_graph(self) -> DependencyGraph:
        """The :class:`daisy.DependencyGraph` of the scheduled tasks."""
        if self._dependency_graph is None:
            self._dependency_graph = DependencyGraph._wrap(
                self._scheduler.dependency_graph(), self.task_map
            )
        return self._dependency_graph

    @property
    def ready_surface(self) -> Any:
        """Not available: raises AttributeError.

        daisy 1.x's scheduler kept a ``ReadySurface`` of succeeded blocks with unfinished
        downstream blocks (``surface``) and failed blocks that still matter (``boundary``).
        The engine never holds those sets: it counts, per waiting block, how many upstream
        blocks are unfinished (docs/semantics.md#scheduling), which is what makes a block
        ready. Ask :attr:`task_states` for the counts, or :attr:`dependency_graph` for
        upstream and downstream blocks.
        """
        raise AttributeError(
            "Scheduler.ready_surface is not available: the engine does not keep daisy 1.x's "
            "surface and boundary sets (it counts the unfinished upstream blocks of each "
            "waiting block instead); use task_states for the counts and dependency_graph "
            "for the upstream and downstream blocks of a block"
        )

    @property
    def task_queues(self) -> dict[str, _QueueView]:
        """Task ID -> a view of the task's queue with ``num_ready`` (the engine keeps the
        queues themselves)."""
        if self._task_queues is None:
            self._task_queues = {
                task_id: _QueueView(state) for task_id, state in self.task_states.items()
            }
        return self._task_queues

    def _abandon_task(self, task_id: str) -> None:
        """Gives up a task: its remaining blocks and their dependents become orphans."""
        self._scheduler.abandon_task(task_id)

    def _fix_states(self, counters: dict[str, Any]) -> None:
        """Freezes the task states to the final counts of a distributed run."""
        for task_id, state in self.task_states.items():
            if task_id in counters and isinstance(state, _LiveTaskState):
                state._fix(counters[task_id])


class _QueueView:
    """What the engine tells about a task's queue."""

    __slots__ = ("_state",)

    def __init__(self, state: TaskState) -> None:
        self._state = state

    @property
    def num_ready(self) -> int:
        """The number of blocks that can be handed out."""
        return self._state.ready_count

    def __repr__(self) -> str:
        return f"<task queue: {self.num_ready} ready>"
