"""The block counters of a task (docs/semantics.md#scheduling).

The counts live here; everything derived from them (``pending_count``, ``is_done()``, the
``Started: True`` text) is the engine's ``TaskState``, asked through ``_daisy.Counters``.
"""

from collections.abc import Callable
from typing import Any, Protocol

from . import _daisy

__all__ = ["TaskState"]

#: TaskState's fields, in the order of the engine's ``_daisy.Counters``.
_FIELDS = (
    "started",
    "total_block_count",
    "ready_count",
    "processing_count",
    "completed_count",
    "skipped_count",
    "failed_count",
    "orphaned_count",
)
#: The fields but ``started``: the block counts, in the order of ``_daisy.Counters``.
_COUNTS = _FIELDS[1:]


class _CounterSource(Protocol):
    """What a live TaskState reads from: the engine's scheduler."""

    def counters(self, task_id: str) -> _daisy.Counters: ...


class TaskState:
    """How many blocks of a task are in which state.

    Attributes:

        started (bool): False until a block of the task was handed out.
        total_block_count (int): all blocks of the task.
        ready_count (int): blocks waiting to be handed out.
        processing_count (int): blocks handed out and not yet returned.
        completed_count (int): blocks that succeeded or were skipped.
        skipped_count (int): blocks whose pre-check said they were done already.
        failed_count (int): blocks that failed permanently (after all retries).
        orphaned_count (int): blocks that can never run because a block they depend on
            failed.

    As in daisy 1.x, the attributes of a TaskState you make yourself can be set.
    ``pending_count`` (blocks waiting on upstream blocks), ``is_done()`` and the text of
    ``str()`` are the engine's, computed from these counts.
    """

    started: bool
    total_block_count: int
    ready_count: int
    processing_count: int
    completed_count: int
    skipped_count: int
    failed_count: int
    orphaned_count: int

    def __init__(self) -> None:
        self.started = False
        for name in _COUNTS:
            setattr(self, name, 0)

    def _counters(self) -> _daisy.Counters:
        """The counts as the engine's Counters."""
        return _daisy.Counters(bool(self.started), *(getattr(self, name) for name in _COUNTS))

    @property
    def pending_count(self) -> int:
        """Blocks that wait on upstream blocks: neither ready, processing, completed,
        failed nor orphaned."""
        return self._counters().pending_count

    def is_done(self) -> bool:
        """True when every block completed, failed or was orphaned."""
        return self._counters().is_done()

    def _update(self, counters: Any) -> None:
        """Copies the values of an engine ``Counters`` object (or another TaskState)."""
        self.started = bool(counters.started)
        for name in _COUNTS:
            setattr(self, name, getattr(counters, name))

    @classmethod
    def _from_counters(cls, counters: Any) -> "TaskState":
        state = cls()
        state._update(counters)
        return state

    def __str__(self) -> str:
        return str(self._counters())

    def __repr__(self) -> str:
        return str(self)


def _observed_state(states: dict[str, TaskState], task_id: str, counters: Any) -> TaskState:
    """The TaskState a run's observers get for a task: ``states[task_id]`` (made on first
    use, then the same object for the whole run), updated to the engine's ``counters``."""
    state = states.get(task_id)
    if state is None:
        state = states[task_id] = TaskState()
    state._update(counters)
    return state


def _live_field(name: str) -> property:
    def get(self: "_LiveTaskState") -> Any:
        return getattr(self._counters(), name)

    def set_(self: "_LiveTaskState", value: Any) -> None:
        raise AttributeError(
            f"TaskState.{name} of a Scheduler's task is maintained by the scheduler "
            "and cannot be set"
        )

    get.__name__ = name
    return property(get, set_, doc=f"Live value of ``{name}`` read from the scheduler.")


class _LiveTaskState(TaskState):
    """A TaskState that reads its values from the engine's scheduler when asked.

    The Scheduler's ``task_states`` hold these: like daisy 1.x's objects they always show
    the current counts (they are "updated in place"), at no cost on the acquire/release
    path. After a distributed run the values are frozen to the run's final counts.
    """

    __slots__ = ("_source", "_task_id", "_fixed")

    def __init__(self, source: _CounterSource, task_id: str) -> None:
        self._source = source
        self._task_id = task_id
        self._fixed: _daisy.Counters | None = None

    def _counters(self) -> _daisy.Counters:
        if self._fixed is not None:
            return self._fixed
        return self._source.counters(self._task_id)

    def _fix(self, counters: Any) -> None:
        """Freezes the values to ``counters`` (the final counts of a run: engine Counters
        or a TaskState)."""
        if not isinstance(counters, _daisy.Counters):
            counters = TaskState._from_counters(counters)._counters()
        self._fixed = counters

    def __reduce__(self) -> tuple[Callable[[Any], TaskState], tuple[Any]]:
        # Pickles (and copies) as a plain TaskState holding the current values.
        return (TaskState._from_counters, (self._counters(),))


for _name in _FIELDS:
    setattr(_LiveTaskState, _name, _live_field(_name))
del _name
