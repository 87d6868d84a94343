"""The exceptions daisy raises, under one base class :class:`DaisyError`.

Every class also derives from the builtin exception daisy 1.x raised in its place, so code
written for 1.x keeps working: ``except ValueError`` still catches a bad task definition,
``except AssertionError`` still catches "Read ROI must contain write ROI.", ``except
KeyError`` still catches the release of a block that is not being processed. New code can
catch :class:`DaisyError` (or one of its subclasses) instead::

    try:
        daisy.run_blockwise([task])
    except daisy.TaskError as e:
        print("the task is not valid:", e)

The engine (``daisy._daisy``) raises these classes; this module is their only definition.
It imports nothing from daisy, so the engine can load it at any time.
"""

from __future__ import annotations

__all__ = [
    "DaisyError",
    "TaskError",
    "RoiContainmentError",
    "TaskGraphError",
    "TaskTypeError",
    "BlockError",
    "UnknownTaskError",
    "BlockNotProcessingError",
    "BlockStatusError",
    "DoneMarkerError",
    "DoneMarkerMismatchError",
    "RunError",
    "ClientError",
    "ContextError",
    "MissingContextError",
    "GraphError",
    "GraphMetadataError",
    "MissingNodeError",
    "GraphStoreError",
]


class DaisyError(Exception):
    """The base class of every exception daisy raises for a problem it detected."""


class TaskError(DaisyError, ValueError):
    """A task (or the tiling of one) is not valid: a bad task id, ROIs of different
    dimensions, an unbounded ROI, a non-positive write shape, an unknown fit, a negative count,
    a timeout that is not a positive number of seconds, ... (docs/semantics.md#tasks).

    A ``ValueError``, as in daisy 1.x.
    """


class RoiContainmentError(TaskError, AssertionError):
    """With ``read_write_conflict=True``, the read ROI of a task does not contain its write ROI.

    The message starts with daisy 1.x's "Read ROI must contain write ROI.". An
    ``AssertionError`` (what daisy 1.x raised) and a ``ValueError``.
    """


class TaskGraphError(TaskError):
    """The tasks of a run do not form a valid graph: two different tasks share one task id,
    the upstream tasks form a cycle (the message names the tasks of the cycle in order), or a
    task and one of its upstream tasks differ in dimensions
    (docs/semantics.md#tasks-that-depend-on-tasks).

    A ``ValueError``, as in daisy 1.x.
    """


class TaskTypeError(DaisyError, TypeError):
    """An argument of a task has the wrong type: a ROI that is not a ROI, a check that is not
    callable, a count that is not an int, a timeout that is not a number or a timedelta, ...

    A ``TypeError``, as in daisy 1.x.
    """


class BlockError(DaisyError, ValueError):
    """A block or ROI that the engine cannot place: a block that is not on its task's block
    grid, ROIs whose arithmetic overflows or whose dimensions differ, a block index whose
    block id does not fit into 64 bits (docs/semantics.md#blocks-and-block-ids).

    A ``ValueError``.
    """


class UnknownTaskError(DaisyError, KeyError):
    """A task id that the scheduler or dependency graph does not know.

    A ``KeyError``, as the task dicts of daisy 1.x raised.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class BlockNotProcessingError(DaisyError, KeyError):
    """A block was released that is not being processed (not handed out, or released twice).
    Nothing changed.

    A ``KeyError``, as in daisy 1.x.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class BlockStatusError(DaisyError, RuntimeError):
    """A block was released with a status other than SUCCESS or FAILED. Nothing changed.

    A ``RuntimeError``, as in daisy 1.x ("Unexpected status for released block: ...").
    """


class DoneMarkerError(DaisyError, OSError):
    """Reading or writing a task's done marker failed (docs/semantics.md#resume).

    An ``OSError``: ``errno``, ``strerror`` and ``filename`` are set when the operating system
    reported the failure.
    """


class DoneMarkerMismatchError(DaisyError, ValueError):
    """A done marker does not belong to the task opening it: it was written for another task
    layout, has another number of entries, or the path holds something that is not a daisy
    done marker. Delete it (or reset it) to start over (docs/semantics.md#resume).

    A ``ValueError``.
    """


class RunError(DaisyError, RuntimeError):
    """A run could not start or had to stop: the server could not listen, a worker's own code
    failed outside any block, a block function failed in a serial run, no launcher was
    configured, ... (docs/semantics.md#the-distributed-run).

    A ``RuntimeError``, as in daisy 1.x.
    """


class ClientError(DaisyError, ConnectionError):
    """A worker's :class:`daisy.Client` lost or could not open its connection to the server,
    or the server refused it or sent something it cannot understand
    (docs/semantics.md#workers-and-daisy_context).

    A ``ConnectionError`` (an ``OSError``).
    """


class ContextError(DaisyError, ValueError):
    """A worker's ``DAISY_CONTEXT`` is malformed or lacks a field
    (docs/semantics.md#workers-and-daisy_context).

    A ``ValueError``.
    """


class MissingContextError(ContextError, KeyError):
    """``DAISY_CONTEXT`` is not set: :class:`daisy.Client` was made outside a worker started
    by the daisy server, without a context (docs/semantics.md#workers-and-daisy_context).

    A ``KeyError``, as the bare ``KeyError('DAISY_CONTEXT')`` of daisy 1.x, and a
    :class:`ContextError`.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class GraphError(DaisyError, ValueError):
    """A graph store (``daisy.persistence``) was given what it cannot store or answer: a ROI
    of other dimensions than the positions, an attribute that is not declared, a value of
    another type than declared, an id out of range, options that do not describe a graph.

    A ``ValueError``.
    """


class GraphMetadataError(GraphError, AssertionError):
    """A graph store holds another graph than the one asked for: an option given on open
    differs from the stored metadata (directed or not, the position attribute, attribute
    types, ...), or a table exists with other columns.

    Also an ``AssertionError``, which funlib.persistence raised in its place.
    """


class MissingNodeError(GraphError, KeyError):
    """An edge to write names a node the graph does not hold (its position decides which
    block writes it).

    Also a ``KeyError``, which funlib.persistence raised in its place.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class GraphStoreError(DaisyError, RuntimeError):
    """A graph store cannot do what was asked: it is read-only (mode ``"r"``), holds no graph
    yet (open it with mode ``"w"`` first), is closed, or its file or server failed (the
    message names it).

    A ``RuntimeError``, as funlib.persistence raised for the first two.
    """
