"""The in-process scheduler (docs/semantics.md#scheduling)."""

from .block import Block  # noqa: F401  (imported before the engine, see block.py)
from . import _daisy
from .dependency_graph import DependencyGraph
from .ready_surface import ReadySurface
from .task import _register_tasks, _specs
from .task_state import _LiveTaskState

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

    def __init__(self, tasks, count_all_orphans=True):
        task_map = _register_tasks(tasks)

        self.count_all_orphans = bool(count_all_orphans)
        self._scheduler = _daisy.Scheduler(
            _specs(list(task_map.values())), self.count_all_orphans
        )
        task_ids = list(self._scheduler.task_ids())
        self.task_map = {task_id: task_map[task_id] for task_id in task_ids}
        self.task_states = {
            task_id: _LiveTaskState(self._scheduler, task_id) for task_id in task_ids
        }
        self._dependency_graph = None
        self._ready_surface = None
        self._task_queues = None

        # The hot path: with no subclass override, acquire_block is the engine's method.
        if type(self).acquire_block is Scheduler.acquire_block:
            self.acquire_block = self._scheduler.acquire_block

    def acquire_block(self, task_id):
        """The next ready block of a task (status CREATED), or None if none is ready.

        Runs the task's pre-check first: blocks it reports as done are skipped (counted as
        completed and skipped) and the next block is tried. An unknown task ID gives None.
        """
        return self._scheduler.acquire_block(task_id)

    def release_block(self, block):
        """Returns a block handed out by :meth:`acquire_block`.

        Its ``status`` must be SUCCESS or FAILED. A failed block is queued again until it
        failed ``max_retries + 1`` times; then it and every block depending on it are
        given up (failed / orphaned).

        Returns ``{task_id: TaskState}`` for the tasks that got new ready blocks.
        Raises KeyError (nothing changes) if the block is not being processed, and
        RuntimeError for any other status.
        """
        task_ids = self._scheduler.release_block(block)
        if not task_ids:
            return {}
        states = self.task_states
        return {task_id: states[task_id] for task_id in task_ids}

    def get_ready_tasks(self):
        """The tasks with ready blocks, root tasks first."""
        task_map = self.task_map
        return [task_map[task_id] for task_id in self._scheduler.ready_task_ids()]

    @property
    def dependency_graph(self):
        """The :class:`daisy.DependencyGraph` of the scheduled tasks."""
        if self._dependency_graph is None:
            self._dependency_graph = DependencyGraph._wrap(
                self._scheduler.dependency_graph(), self.task_map
            )
        return self._dependency_graph

    @property
    def ready_surface(self):
        """A :class:`daisy.ready_surface.ReadySurface` over the dependency graph.

        The engine keeps its own frontier: the ``surface`` and ``boundary`` sets of this
        object are not maintained by the scheduler.
        """
        if self._ready_surface is None:
            graph = self.dependency_graph
            self._ready_surface = ReadySurface(graph.downstream, graph.upstream)
        return self._ready_surface

    @property
    def task_queues(self):
        """Task ID -> a view of the task's queue with ``num_ready`` (the engine keeps the
        queues themselves)."""
        if self._task_queues is None:
            self._task_queues = {
                task_id: _QueueView(state) for task_id, state in self.task_states.items()
            }
        return self._task_queues

    def _abandon_task(self, task_id):
        """Gives up a task: its remaining blocks and their dependents become orphans."""
        self._scheduler.abandon_task(task_id)

    def _fix_states(self, counters):
        """Freezes the task states to the final counts of a distributed run."""
        for task_id, state in self.task_states.items():
            if task_id in counters:
                state._fix(counters[task_id])


class _QueueView:
    """What the engine tells about a task's queue."""

    __slots__ = ("_state",)

    def __init__(self, state):
        self._state = state

    @property
    def num_ready(self):
        """The number of blocks that can be handed out."""
        return self._state.ready_count

    def __repr__(self):
        return f"<task queue: {self.num_ready} ready>"
