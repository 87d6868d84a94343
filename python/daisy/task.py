"""Tasks: what to run block-wise, where and how (docs/semantics.md#tasks)."""

import datetime
import functools
import inspect
import numbers
import os

from funlib.geometry import Roi

from .block import BlockStatus  # noqa: F401  (imported before the engine, see block.py)
from . import _daisy

__all__ = ["Task"]

_FITS = ("valid", "overhang", "shrink")


class _RoiContainmentError(ValueError, AssertionError):
    """"Read ROI must contain write ROI.": a ValueError, and an AssertionError as in 1.x."""


def _noop_init_callback(context):  # pylint: disable=unused-argument
    """The default ``init_callback_fn``: does nothing."""


class Task:
    """Definition of a daisy task that is to be run in a block-wise fashion.

    Args:

        task_id (``str``):
            The unique name of the task (used in block IDs, log paths and progress bars).

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
            resource. If False, all blocks may run at the same time.

        num_workers (``int``, optional):
            The number of worker processes to run for this task (also ``max_workers``).

        max_retries (``int``, optional):
            How often a failed block is retried: it is attempted up to
            ``max_retries + 1`` times.

        fit (``str``, optional):
            How to handle blocks at the boundary of the total ROI: ``"valid"`` (skip blocks
            that would leave it, the default), ``"overhang"`` (keep them) or ``"shrink"``
            (keep them, shrunk to the total ROI).

        timeout (number or :class:`datetime.timedelta`, optional):
            Seconds a block may stay out before it counts as lost (the worker holding it is
            stopped and the block retried). None (the default) means no limit.

        upstream_tasks (list of :class:`Task`, optional):
            Tasks this task depends on: a block waits for the upstream blocks whose writes
            overlap its read ROI.

        max_worker_restarts (``int``, keyword only):
            How many replacement workers may be started for this task (crashes, timeouts,
            workers that exited while blocks remained). Default 10.

        max_workers (``int``, keyword only):
            The newer name of ``num_workers``.

        done_marker_path (``str`` or path, keyword only):
            Where to keep a record of finished blocks (a Zarr v3 array); blocks recorded
            there are skipped when the task runs again. None (the default) keeps no record.
    """

    def __init__(
        self,
        task_id,
        total_roi,
        read_roi,
        write_roi,
        process_function,
        check_function=None,
        init_callback_fn=None,
        read_write_conflict=True,
        num_workers=1,
        max_retries=2,
        fit="valid",
        timeout=None,
        upstream_tasks=None,
        *,
        max_worker_restarts=10,
        max_workers=None,
        done_marker_path=None,
    ):
        if not isinstance(task_id, str):
            raise TypeError(
                f"task_id must be a str, got {task_id!r} of type {type(task_id).__name__}"
            )
        if not task_id or ":" in task_id or "=" in task_id:
            raise ValueError(
                f"task_id must be a non-empty string without ':' or '=', got {task_id!r}"
            )
        self.task_id = task_id

        total_roi = _as_roi("total_roi", total_roi)
        read_roi = _as_roi("read_roi", read_roi)
        write_roi = _as_roi("write_roi", write_roi)
        _check_rois(total_roi, read_roi, write_roi, bool(read_write_conflict))
        self.total_roi = total_roi
        self.orig_total_roi = total_roi
        self.read_roi = read_roi
        self.write_roi = write_roi
        self.total_write_roi = total_roi.grow(
            -(write_roi.begin - read_roi.begin), -(read_roi.end - write_roi.end)
        )

        if not callable(process_function):
            raise TypeError(
                f"process_function must be callable, got {process_function!r}"
            )
        self.process_function = process_function
        num_args = _block_function_args(process_function)
        if num_args == 0:
            self._is_spawn_function = True
            self.spawn_worker_function = process_function
        else:
            self._is_spawn_function = False
            self.spawn_worker_function = self._process_blocks

        _check_check_function(check_function)
        self.check_function = check_function

        if init_callback_fn is None:
            init_callback_fn = _noop_init_callback
        elif not callable(init_callback_fn):
            raise TypeError(
                f"init_callback_fn must be callable or None, got {init_callback_fn!r}"
            )
        self.init_callback_fn = init_callback_fn

        self.read_write_conflict = bool(read_write_conflict)

        if max_workers is not None:
            max_workers = _as_int("max_workers", max_workers, minimum=0)
            if num_workers not in (1, None, max_workers):
                raise ValueError(
                    "num_workers and max_workers name the same setting; got "
                    f"num_workers={num_workers!r} and max_workers={max_workers!r}"
                )
            num_workers = max_workers
        self.num_workers = _as_int("num_workers", num_workers, minimum=0)
        self.max_retries = _as_int("max_retries", max_retries, minimum=0)
        self.max_worker_restarts = _as_int(
            "max_worker_restarts", max_worker_restarts, minimum=0
        )

        if fit not in _FITS:
            raise ValueError(
                f"fit must be one of 'valid', 'overhang' or 'shrink', got {fit!r}"
            )
        self.fit = fit

        _timeout_seconds(timeout)  # validates
        self.timeout = timeout

        if upstream_tasks is None:
            upstream_tasks = []
        elif isinstance(upstream_tasks, Task):
            upstream_tasks = [upstream_tasks]
        else:
            try:
                upstream_tasks = list(upstream_tasks)
            except TypeError:
                raise TypeError(
                    "upstream_tasks must be a list of daisy.Task objects or None, got "
                    f"{upstream_tasks!r}"
                ) from None
        for upstream in upstream_tasks:
            if not isinstance(upstream, Task):
                raise TypeError(
                    f"upstream_tasks of task {task_id!r} must hold daisy.Task objects, "
                    f"got {upstream!r}"
                )
        self.upstream_tasks = upstream_tasks

        if done_marker_path is False:
            done_marker_path = None
        if done_marker_path is not None:
            try:
                done_marker_path = os.fspath(done_marker_path)
            except TypeError:
                raise TypeError(
                    "done_marker_path must be a str, a path or None, got "
                    f"{done_marker_path!r}"
                ) from None
        self.done_marker_path = done_marker_path

        # Let the engine check the rest now rather than when the task runs.
        self._spec_without_upstream()

    @property
    def max_workers(self):
        """The number of worker processes of this task (the newer name of num_workers)."""
        return self.num_workers

    @max_workers.setter
    def max_workers(self, value):
        self.num_workers = value

    def requires(self):
        """The tasks this task depends on (``upstream_tasks``)."""
        return self.upstream_tasks

    def _process_blocks(self):
        """The worker loop of a block function: acquire, process, release, until done."""
        from .client import Client  # pylint: disable=import-outside-toplevel

        client = Client()
        while True:
            with client.acquire_block() as block:
                if block is None:
                    break
                self.process_function(block)

    # --- the engine's copy of the task -----------------------------------------------

    def _checks(self):
        check = self.check_function
        if check is None:
            return None, None
        if isinstance(check, (tuple, list)):
            pre, post = check
        else:
            pre, post = check, None
        return pre, post

    def _spec_args(self, upstream):
        pre, post = self._checks()
        return (
            self.task_id,
            self.total_roi,
            self.read_roi,
            self.write_roi,
            bool(self.read_write_conflict),
            self.fit,
            int(self.num_workers),
            int(self.max_retries),
            _timeout_seconds(self.timeout),
            upstream,
            pre,
            post,
            _init_callback(self.init_callback_fn),
            int(self.max_worker_restarts),
            self.done_marker_path,
        )

    def _spec_without_upstream(self):
        return _daisy.TaskSpec(*self._spec_args([]))

    def _spec(self, _memo=None, _path=None):
        """The engine's ``TaskSpec`` of this task, with the specs of its upstream tasks.

        Built afresh on every call (so changed attributes count) but once per Task object
        within one call. Raises ValueError for a cycle among the tasks or for two distinct
        Task objects with one task_id.
        """
        memo = {} if _memo is None else _memo  # task_id -> (task, spec)
        path = [] if _path is None else _path
        known = memo.get(self.task_id)
        if known is not None:
            if known[0] is not self:
                raise ValueError(
                    f"two different tasks have the task_id {self.task_id!r}; "
                    "task ids must be unique"
                )
            return known[1]
        if any(task is self for task in path):
            cycle = [t.task_id for t in path[[t is self for t in path].index(True) :]]
            cycle.append(self.task_id)
            raise ValueError(
                "the upstream tasks form a cycle: " + " -> ".join(repr(i) for i in cycle)
            )
        for task in path:
            if task.task_id == self.task_id:
                raise ValueError(
                    f"two different tasks have the task_id {self.task_id!r}; "
                    "task ids must be unique"
                )
        path.append(self)
        upstream = [task._spec(memo, path) for task in self.upstream_tasks]
        path.pop()
        known = memo.get(self.task_id)
        if known is not None:  # registered meanwhile through a cycle-free diamond
            if known[0] is not self:
                raise ValueError(
                    f"two different tasks have the task_id {self.task_id!r}; "
                    "task ids must be unique"
                )
            return known[1]
        spec = _daisy.TaskSpec(*self._spec_args(upstream))
        memo[self.task_id] = (self, spec)
        return spec

    def __repr__(self):
        return f"Task({self.task_id!r})"


def _register_tasks(tasks):
    """The tasks and, recursively, their upstream tasks: ``{task_id: task}`` in registration
    order (each task, then its upstream tasks, depth first; docs/semantics.md#tasks-that-depend-on-tasks).

    Raises TypeError for something that is not a :class:`Task`, and ValueError for two
    different Task objects with one ``task_id``.
    """
    if isinstance(tasks, Task):
        tasks = [tasks]
    task_map = {}

    def register(task):
        if _admit(task_map, task):
            for upstream in task.requires():
                register(upstream)

    for task in tasks:
        register(task)
    return task_map


def _admit(by_id, task):
    """Adds ``task`` to ``by_id`` unless it is there; False if it was.

    Raises TypeError for something that is not a :class:`Task`, and ValueError for a
    different Task object with a known ``task_id``.
    """
    if not isinstance(task, Task):
        raise TypeError(f"expected daisy.Task objects, got {task!r}")
    known = by_id.get(task.task_id)
    if known is None:
        by_id[task.task_id] = task
        return True
    if known is not task:
        raise ValueError(
            f"two different tasks have the task_id {task.task_id!r}; task ids must be unique"
        )
    return False


def _collect_tasks(tasks):
    """The given tasks and, breadth-first, their upstream tasks (docs/semantics.md#run_blockwise).

    Deduplicated by task_id (first occurrence wins); two distinct Task objects with one
    task_id raise ValueError. The given list is not modified.
    """
    if isinstance(tasks, Task):
        tasks = [tasks]
    else:
        try:
            tasks = list(tasks)
        except TypeError:
            raise TypeError(
                f"expected a daisy.Task or a list of daisy.Task objects, got {tasks!r}"
            ) from None
    by_id = {}
    queue = list(tasks)
    position = 0
    while position < len(queue):
        task = queue[position]
        position += 1
        if _admit(by_id, task):
            queue.extend(task.requires())
    return list(by_id.values())


def _specs(tasks):
    """The engine specs of the given tasks (in order), sharing one memo."""
    memo = {}
    return [task._spec(memo) for task in tasks]


# --- argument checks -------------------------------------------------------------------


def _as_roi(name, value):
    if isinstance(value, Roi):
        return value
    if hasattr(value, "offset") and hasattr(value, "shape"):
        try:
            return Roi(tuple(value.offset), tuple(value.shape))
        except Exception:  # pylint: disable=broad-except
            pass
    raise TypeError(f"{name} must be a daisy.Roi, got {value!r} of type {type(value).__name__}")


def _check_rois(total_roi, read_roi, write_roi, read_write_conflict):
    dims = (total_roi.dims, read_roi.dims, write_roi.dims)
    if len(set(dims)) != 1:
        raise ValueError(
            "total_roi, read_roi and write_roi must have the same number of dimensions, "
            f"got total_roi={total_roi} ({dims[0]}-D), read_roi={read_roi} ({dims[1]}-D), "
            f"write_roi={write_roi} ({dims[2]}-D)"
        )
    for name, roi in (("total_roi", total_roi), ("read_roi", read_roi), ("write_roi", write_roi)):
        if roi.unbounded or None in roi.offset:
            raise ValueError(f"{name} must be bounded, got {roi}")
    if any(s <= 0 for s in write_roi.shape):
        raise ValueError(f"write_roi must have a positive shape, got {write_roi}")
    if any(s < 0 for s in read_roi.shape):
        raise ValueError(f"read_roi must not have a negative shape, got {read_roi}")
    if read_write_conflict and not read_roi.contains(write_roi):
        raise _RoiContainmentError(
            f"Read ROI must contain write ROI. Got read_roi={read_roi}, "
            f"write_roi={write_roi} (set read_write_conflict=False if blocks do not "
            "read what their neighbours write)"
        )


def _as_int(name, value, minimum=None):
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    else:
        raise TypeError(f"{name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _timeout_seconds(timeout):
    """The timeout in seconds (float) or None; raises for anything else."""
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, numbers.Real) and not isinstance(timeout, bool):
        seconds = float(timeout)
    else:
        raise TypeError(
            "timeout must be a number of seconds, a datetime.timedelta or None, got "
            f"{timeout!r}"
        )
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"timeout must be a positive, finite number of seconds, got {timeout!r}")
    return seconds


def _check_check_function(check_function):
    if check_function is None:
        return
    if isinstance(check_function, (tuple, list)):
        if len(check_function) != 2:
            raise ValueError(
                "check_function must be a callable or a tuple (pre_check, post_check), "
                f"got a {type(check_function).__name__} of {len(check_function)} elements"
            )
        for name, fn in zip(("pre_check", "post_check"), check_function):
            if fn is not None and not callable(fn):
                raise TypeError(
                    f"check_function: {name} must be callable or None, got {fn!r}"
                )
        return
    if not callable(check_function):
        raise TypeError(
            "check_function must be a callable, a tuple (pre_check, post_check) or None, "
            f"got {check_function!r}"
        )


def _init_callback(init_callback_fn):
    """Adapts ``init_callback_fn(context)`` to the engine, which passes the context string."""
    if init_callback_fn is None or init_callback_fn is _noop_init_callback:
        return None

    def call(daisy_context):
        from .client import _context_from_string  # pylint: disable=import-outside-toplevel

        init_callback_fn(_context_from_string(daisy_context, typed=True))

    return call


def _block_function_args(process_function):
    """The named positional parameters of a process function, ``self`` dropped (docs/semantics.md#tasks).

    Returns their number (0: spawn function, 1: block function); raises ValueError for more.
    """
    try:
        args = list(inspect.getfullargspec(process_function).args)
    except TypeError as e:
        raise TypeError(
            f"process_function {process_function!r}: cannot inspect its parameters ({e})"
        ) from None
    if "self" in args:
        args.remove("self")
    elif args and _binds_first_argument(process_function):
        # A bound method whose first parameter is not called "self" (a classmethod's
        # "cls", or a __call__(this, block)): the bound argument is not passed by daisy.
        args.pop(0)
    if len(args) > 1:
        raise ValueError(f"daisy does not know what to pass into args: {args}")
    return len(args)


def _binds_first_argument(fn):
    if inspect.ismethod(fn):
        return True
    if isinstance(fn, functools.partial) or inspect.isfunction(fn) or inspect.isclass(fn):
        return False
    if inspect.isbuiltin(fn) or inspect.isroutine(fn):
        return False
    # A callable instance: getfullargspec shows its __call__ including the instance.
    return inspect.isfunction(getattr(type(fn), "__call__", None))
