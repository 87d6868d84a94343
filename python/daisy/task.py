"""Tasks: what to run block-wise, where and how (docs/semantics.md#tasks).

A :class:`Task` keeps its arguments as daisy 1.x's attributes; the engine validates them
(``daisy._daisy.TaskSpec``) when the task is made and again whenever a run, scheduler or
dependency graph takes it, and links the tasks to their upstream tasks
(``daisy._daisy.link_tasks``), rejecting duplicate task ids and cycles. This module only walks
the Task objects and converts the arguments for the engine.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable
from typing import Any

from funlib.geometry import Roi

from . import _daisy
from .errors import TaskError, TaskTypeError
from .slurm_launcher import SlurmLauncher

__all__ = ["Task"]

CheckFunction = Callable[[Any], bool]


def _noop_init_callback(context: Any) -> None:
    """The default ``init_callback_fn``: does nothing."""


class Task:
    """Definition of a daisy task that is to be run in a block-wise fashion.

    Args:

        task_id (``str``):
            The unique name of the task (used in block IDs, log paths and progress bars).
            It names the task's log directory, so it must be one safe path component: not
            empty, ``.`` or ``..``, at most 255 bytes, without ``/``, ``\\``, NUL or other
            control characters; and without ``:`` or ``=``.

        total_roi (:class:`daisy.Roi`):
            The region of interest (ROI) of the complete volume to process: the total
            *read* ROI. Must be bounded.

        read_roi (:class:`daisy.Roi`):
            The ROI every block needs to read data from. Will be shifted over the total_roi
            to cover the whole volume.

        write_roi (:class:`daisy.Roi`):
            The ROI every block writes data to. Shifted together with ``read_roi``.

        process_function (function):
            Either a *block function* taking one argument, called as
            ``process_function(block)`` for every block in a worker process, or a *spawn
            function* taking no argument, called once per worker (in the worker process)
            and expected to start a program that uses :class:`daisy.Client` (or to run its
            own client loop). Functions, lambdas, closures, bound methods,
            ``functools.partial`` objects and callable instances are accepted; nothing is
            pickled (workers are forked from this process).

        check_function (function or tuple, optional):
            A pre-check ``check(block) -> bool``: True means the block is done already and
            is skipped. Or a tuple ``(pre_check, post_check)``: the post-check is called
            after a worker reported a block as done; False (or an exception) fails the
            block. Either element may be None.

        init_callback_fn (function, optional):
            Called once as ``init_callback_fn(context)`` when the task starts, before its
            workers, with the :class:`daisy.Context` a client would need to connect.

        read_write_conflict (``bool``, optional):
            Whether the read and write ROIs of neighbouring blocks access the same
            resource. If False, all blocks may run at the same time. If True (the default),
            the read ROI must contain the write ROI.

        num_workers (``int``, optional):
            The number of worker processes to run for this task (also ``max_workers``):
            at least 1.

        max_retries (``int``, optional):
            How often a failed block is retried: it is attempted up to
            ``max_retries + 1`` times.

        fit (``str``, optional):
            How to handle blocks at the boundary of the total ROI: ``"valid"`` (skip blocks
            that would leave it, the default), ``"overhang"`` (keep them) or ``"shrink"``
            (keep them, shrunk to the total ROI; docs/semantics.md#fit-modes).

        timeout (number or :class:`datetime.timedelta`, optional):
            Seconds a block may stay out before it counts as lost (the worker holding it is
            stopped and the block retried). None (the default) means no limit; a timeout
            longer than about 100 years is clamped to that.

        upstream_tasks (list of :class:`Task`, optional):
            Tasks this task depends on: a block waits for the upstream blocks whose writes
            overlap its read ROI (docs/semantics.md#tasks-that-depend-on-tasks).

        max_worker_restarts (``int``, keyword only):
            How many replacement workers may be started for this task (crashes, timeouts,
            workers that exited while blocks remained). None (the default) means the
            engine's default, {DEFAULT_MAX_WORKER_RESTARTS}
            (docs/semantics.md#worker-restarts).

        max_workers (``int``, keyword only):
            The newer name of ``num_workers``.

        max_failures_before_success (``int``, keyword only):
            After this many failed block attempts with no block of the task processed
            successfully yet, the task is abandoned (its other blocks, and the blocks of
            downstream tasks that wait for them, are orphaned) and the summary says why.
            0 never gives up; None (the default) means ``(max_retries + 1) * max(10, 2 *
            num_workers)`` (docs/semantics.md#progress-and-the-execution-summary).

        done_marker_path (``str`` or path, keyword only):
            Where to keep a record of finished blocks (a Zarr v3 array); blocks recorded
            there are skipped when the task runs again (docs/semantics.md#resume). None (the
            default) keeps no record.

        launcher (:class:`daisy.SlurmLauncher`, keyword only):
            How the task's workers start. None (the default): as processes forked from the
            scheduler's. A :class:`daisy.SlurmLauncher`: as SLURM jobs, which import
            ``process_function`` by module and name (docs/cluster.md), so it must be a
            function at the top level of a module or script.

    Raises:

        daisy.TaskError: (a ``ValueError``) for a value the engine rejects (an int out of
            range names the argument and the range), with
            :class:`daisy.RoiContainmentError` (also an ``AssertionError``) for a read ROI
            that does not contain the write ROI.
        daisy.TaskTypeError: (a ``TypeError``) for an argument of the wrong type.
    """

    def __init__(
        self,
        task_id: str,
        total_roi: Roi,
        read_roi: Roi,
        write_roi: Roi,
        process_function: Callable[..., Any],
        check_function: CheckFunction
        | tuple[CheckFunction | None, CheckFunction | None]
        | None = None,
        init_callback_fn: Callable[[Any], Any] | None = None,
        read_write_conflict: bool = True,
        num_workers: int = 1,
        max_retries: int = 2,
        fit: str = "valid",
        timeout: Any = None,
        upstream_tasks: Task | Iterable[Task] | None = None,
        *,
        max_worker_restarts: int | None = None,
        max_workers: int | None = None,
        done_marker_path: str | os.PathLike[str] | None = None,
        max_failures_before_success: int | None = None,
        launcher: SlurmLauncher | None = None,
    ) -> None:
        self.task_id = task_id
        self.total_roi = total_roi
        self.orig_total_roi = total_roi
        self.read_roi = read_roi
        self.write_roi = write_roi
        self.check_function = check_function
        self.init_callback_fn = (
            _noop_init_callback if init_callback_fn is None else init_callback_fn
        )
        self.read_write_conflict = bool(read_write_conflict)
        if max_workers is not None:
            if num_workers not in (1, None, max_workers):
                raise TaskError(
                    "num_workers and max_workers name the same setting; got "
                    f"num_workers={num_workers!r} and max_workers={max_workers!r}"
                )
            num_workers = max_workers
        self.num_workers = num_workers
        self.max_retries = max_retries
        self.max_worker_restarts = max_worker_restarts
        self.max_failures_before_success = max_failures_before_success
        self.fit = fit
        self.timeout = timeout
        self.upstream_tasks = (
            [] if upstream_tasks is None else _as_task_list(upstream_tasks, "upstream_tasks")
        )
        if done_marker_path is False:
            done_marker_path = None
        elif isinstance(done_marker_path, os.PathLike):
            done_marker_path = os.fspath(done_marker_path)
        self.done_marker_path = done_marker_path

        # The engine validates the task now rather than when it runs, and converts the counts.
        spec = self._flat_spec()
        self.num_workers = spec.num_workers
        self.max_retries = spec.max_retries
        self.max_worker_restarts = spec.max_worker_restarts
        self.total_write_roi: Roi = spec.total_write_roi

        if not callable(process_function):
            raise TaskTypeError(f"process_function must be callable, got {process_function!r}")
        self.process_function = process_function
        if _block_function_args(process_function) == 0:
            self._is_spawn_function = True
            self.spawn_worker_function = process_function
        else:
            self._is_spawn_function = False
            self.spawn_worker_function = self._process_blocks
        if launcher is not None and not isinstance(launcher, SlurmLauncher):
            raise TaskTypeError(f"launcher must be a daisy.SlurmLauncher or None, got {launcher!r}")
        self.launcher = launcher
        if launcher is not None:
            launcher._for_task(self)  # a function the jobs cannot import is an error now

    @property
    def max_workers(self) -> int:
        """The number of worker processes of this task (the newer name of num_workers)."""
        return self.num_workers

    @max_workers.setter
    def max_workers(self, value: int) -> None:
        self.num_workers = value

    def requires(self) -> list[Task]:
        """The tasks this task depends on (``upstream_tasks``)."""
        return self.upstream_tasks

    def _process_blocks(self) -> None:
        """The worker loop of this task's block function (see :func:`_block_loop`)."""
        _block_loop(self.process_function)

    def _flat_spec(self) -> _daisy.TaskSpec:
        """The engine's copy of this task as it is now, without its upstream tasks."""
        return _daisy.TaskSpec(
            self.task_id,
            self.total_roi,
            self.read_roi,
            self.write_roi,
            read_write_conflict=self.read_write_conflict,
            fit=self.fit,
            num_workers=self.num_workers,
            max_retries=self.max_retries,
            timeout=self.timeout,
            check_function=self.check_function,
            init_callback_fn=_init_callback(self.init_callback_fn),
            max_worker_restarts=self.max_worker_restarts,
            done_marker_path=self.done_marker_path,
            max_failures_before_success=self.max_failures_before_success,
        )

    def _spec(self) -> _daisy.TaskSpec:
        """The engine's copy of this task, linked to the copies of its upstream tasks."""
        return _specs([self])[0]

    def __repr__(self) -> str:
        return f"Task({self.task_id!r})"


if Task.__doc__ is not None:
    Task.__doc__ = Task.__doc__.replace(
        "{DEFAULT_MAX_WORKER_RESTARTS}", str(_daisy.DEFAULT_MAX_WORKER_RESTARTS)
    )


# --- walking the tasks ------------------------------------------------------------------


def _as_task_list(tasks: Any, what: str) -> list[Task]:
    """One Task or an iterable of Tasks as a list; TaskTypeError naming ``what`` otherwise."""
    if isinstance(tasks, Task):
        return [tasks]
    try:
        listed = list(tasks)
    except TypeError:
        raise TaskTypeError(
            f"{what} must be a daisy.Task or a list of daisy.Task objects, got {tasks!r}"
        ) from None
    for task in listed:
        if not isinstance(task, Task):
            raise TaskTypeError(f"{what} must hold daisy.Task objects, got {task!r}")
    return listed


def _given(tasks: Any) -> list[Task]:
    """The tasks given to a run, scheduler or graph: one Task or an iterable of them."""
    return _as_task_list(tasks, "the tasks")


def _walk(tasks: Any, *, breadth_first: bool) -> list[Task]:
    """The given tasks and, recursively, their upstream tasks, each Task object once.

    Depth first (each task, then its upstream tasks), or breadth first. Two Task objects
    with one id are both kept: the engine rejects them when the specs are linked.
    """
    seen: set[int] = set()
    out: list[Task] = []

    def admit(task: Any) -> bool:
        if not isinstance(task, Task):
            raise TaskTypeError(f"expected daisy.Task objects, got {task!r}")
        if id(task) in seen:
            return False
        seen.add(id(task))
        out.append(task)
        return True

    if breadth_first:
        queue = _given(tasks)
        position = 0
        while position < len(queue):
            task = queue[position]
            position += 1
            if admit(task):
                queue.extend(task.requires())
    else:
        stack = _given(tasks)[::-1]
        while stack:
            task = stack.pop()
            if admit(task):
                stack.extend(reversed(task.requires()))
    return out


def _specs(tasks: list[Task]) -> list[_daisy.TaskSpec]:
    """The engine's specs of the tasks (in order), linked to each other's.

    The tasks must include their upstream tasks (as :func:`_task_graph` and
    :func:`_collect_tasks` return them). Built afresh on every call, so changed attributes
    count. Raises :class:`daisy.TaskGraphError` for two Task objects with one id or a cycle.
    """
    position = {id(task): i for i, task in enumerate(tasks)}
    missing = [u for t in tasks for u in t.requires() if id(u) not in position]
    if missing:
        return _specs(_walk(tasks, breadth_first=False))[: len(tasks)]
    upstream = [[position[id(u)] for u in task.requires()] for task in tasks]
    return _daisy.link_tasks([task._flat_spec() for task in tasks], upstream)


def _task_graph(
    tasks: Any, *, breadth_first: bool = False
) -> tuple[dict[str, Task], list[_daisy.TaskSpec]]:
    """The tasks with their upstream tasks, ``{task_id: task}`` in walking order (depth first
    by default, docs/semantics.md#tasks-that-depend-on-tasks; breadth first for runs,
    docs/semantics.md#run_blockwise), and their linked engine specs in the same order.

    Raises :class:`daisy.TaskTypeError` for something that is not a Task, and the engine's
    errors (:class:`daisy.TaskGraphError` for duplicate ids and cycles).
    """
    walked = _walk(tasks, breadth_first=breadth_first)
    specs = _specs(walked)
    return {task.task_id: task for task in walked}, specs


def _register_tasks(tasks: Any) -> dict[str, Task]:
    """The tasks and, recursively, their upstream tasks: ``{task_id: task}``, depth first
    (each task, then its upstream tasks). The engine checks ids and cycles."""
    return _task_graph(tasks)[0]


def _collect_tasks(tasks: Any, scheduler: Any = None) -> list[Task]:
    """The given tasks and, breadth first, their upstream tasks, each Task object once
    (docs/semantics.md#run_blockwise); with a ``scheduler``, its tasks after the given ones.
    :func:`_specs` of them checks ids and cycles."""
    if scheduler is not None:
        given = [tasks] if isinstance(tasks, Task) else list(tasks)
        tasks = given + list(scheduler.task_map.values())
    return _walk(tasks, breadth_first=True)


# --- conversions for the engine -----------------------------------------------------------


def _init_callback(init_callback_fn: Any) -> Any:
    """Adapts ``init_callback_fn(context)`` to the engine, which passes the context string.

    Anything that is not callable is passed on as it is, for the engine to name.
    """
    if init_callback_fn is None or init_callback_fn is _noop_init_callback:
        return None
    if not callable(init_callback_fn):
        return init_callback_fn

    def call(daisy_context: str) -> None:
        from .client import _context_from_string

        init_callback_fn(_context_from_string(daisy_context, typed=True))

    return call


def _block_loop(process_function: Callable[[Any], Any]) -> None:
    """The worker loop of a block function: acquire, process, release, until done."""
    from .client import Client

    client = Client()
    while True:
        with client.acquire_block() as block:
            if block is None:
                break
            process_function(block)


def _block_function_args(process_function: Callable[..., Any]) -> int:
    """The named positional parameters of a process function, ``self`` dropped (docs/semantics.md#tasks).

    Returns their number (0: spawn function, 1: block function); raises TaskError for more.
    """
    try:
        args = list(inspect.getfullargspec(process_function).args)
    except TypeError as e:
        raise TaskTypeError(
            f"process_function {process_function!r}: cannot inspect its parameters ({e})"
        ) from None
    if "self" in args:
        args.remove("self")
    elif args and _binds_first_argument(process_function):
        # A bound method whose first parameter is not called "self" (a classmethod's
        # "cls", or a __call__(this, block)): the bound argument is not passed by daisy.
        args.pop(0)
    if len(args) > 1:
        raise TaskError(f"daisy does not know what to pass into args: {args}")
    return len(args)


def _binds_first_argument(fn: Any) -> bool:
    if inspect.ismethod(fn):
        return True
    if isinstance(fn, functools.partial) or inspect.isfunction(fn) or inspect.isclass(fn):
        return False
    if inspect.isbuiltin(fn) or inspect.isroutine(fn):
        return False
    # A callable instance: getfullargspec shows its __call__ including the instance.
    return inspect.isfunction(getattr(type(fn), "__call__", None))  # noqa: B004
