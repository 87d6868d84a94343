"""The block counters of a task (docs/semantics.md#scheduling)."""

__all__ = ["TaskState"]

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

    ``pending_count`` (blocks waiting on upstream blocks) is derived from the others.
    """

    def __init__(self):
        self.started = False
        self.total_block_count = 0
        self.ready_count = 0
        self.processing_count = 0
        self.completed_count = 0
        self.skipped_count = 0
        self.failed_count = 0
        self.orphaned_count = 0

    @property
    def pending_count(self):
        """Blocks that wait on upstream blocks: neither ready, processing, completed,
        failed nor orphaned."""
        return self.total_block_count - (
            self.ready_count
            + self.completed_count
            + self.failed_count
            + self.orphaned_count
            + self.processing_count
        )

    def is_done(self):
        """True when every block completed, failed or was orphaned."""
        return (
            self.total_block_count
            - self.completed_count
            - self.failed_count
            - self.orphaned_count
        ) == 0

    def _update(self, counters):
        """Copies the values of an engine ``Counters`` object (or another TaskState)."""
        self.started = bool(counters.started)
        self.total_block_count = counters.total_block_count
        self.ready_count = counters.ready_count
        self.processing_count = counters.processing_count
        self.completed_count = counters.completed_count
        self.skipped_count = counters.skipped_count
        self.failed_count = counters.failed_count
        self.orphaned_count = counters.orphaned_count

    @classmethod
    def _from_counters(cls, counters):
        state = cls()
        state._update(counters)
        return state

    def __str__(self):
        return (
            f"Started: {self.started}\n"
            f"Total Blocks: {self.total_block_count}\n"
            f"Ready: {self.ready_count}\n"
            f"Processing: {self.processing_count}\n"
            f"Pending: {self.pending_count}\n"
            f"Completed: {self.completed_count}\n"
            f"Skipped: {self.skipped_count}\n"
            f"Failed: {self.failed_count}\n"
            f"Orphaned: {self.orphaned_count}\n"
        )

    def __repr__(self):
        return str(self)


def _live_field(name):
    def get(self):
        return getattr(self._counters(), name)

    def set_(self, value):
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

    def __init__(self, source, task_id):  # pylint: disable=super-init-not-called
        self._source = source
        self._task_id = task_id
        self._fixed = None

    def _counters(self):
        if self._fixed is not None:
            return self._fixed
        return self._source.counters(self._task_id)

    def _fix(self, counters):
        """Freezes the values to ``counters`` (the final counts of a run)."""
        self._fixed = TaskState._from_counters(counters)

    def _snapshot(self):
        return TaskState._from_counters(self._counters())

    # One read of the counters per call instead of one per field.
    @property
    def pending_count(self):
        return self._snapshot().pending_count

    def is_done(self):
        return self._snapshot().is_done()

    def __str__(self):
        return str(self._snapshot())

    def __reduce__(self):
        # Pickles (and copies) as a plain TaskState holding the current values.
        return (TaskState._from_counters, (self._counters(),))


for _name in _FIELDS:
    setattr(_LiveTaskState, _name, _live_field(_name))
del _name
