"""The Rust engine of daisy (PyO3). Internal: users import `daisy`, never `daisy._daisy`.

THE CONTRACT between `crates/py` (which implements this module) and `python/daisy/*.py` (which
uses it). Change it only by agreement; keep this stub in sync with the implementation.

Conventions:
- ROIs cross the boundary as funlib.geometry.Roi objects (daisy.Roi) on the Python side; the
  Rust side reads `roi.offset` / `roi.shape` (tuples of int or None) and builds funlib Rois with
  `funlib.geometry.Roi(offset, shape)` when it returns one.
- Rust errors become the exceptions of daisy.errors (a DaisyError base; every class also
  derives from the builtin daisy 1.x raised), mapped in one place (crates/py/src/errors.rs):
  bad task values -> TaskError (ValueError), wrong types -> TaskTypeError (TypeError), read ROI
  not containing the write ROI -> RoiContainmentError (also AssertionError), duplicate ids and
  cycles -> TaskGraphError (ValueError), blocks/ROIs the engine cannot place -> BlockError
  (ValueError), "block is not being processed" -> BlockNotProcessingError (KeyError, naming the
  block id), an unknown task id (counters, abandon_task, DependencyGraph lookups) ->
  UnknownTaskError (KeyError), another release status -> BlockStatusError (RuntimeError), done
  marker I/O -> DoneMarkerError (OSError), a marker of another task ->
  DoneMarkerMismatchError (ValueError), Client connection problems -> ClientError
  (ConnectionError), a malformed context -> ContextError (ValueError), a failed run ->
  RunError (RuntimeError). Nothing panics across the boundary.
- Every call that waits on the network or on the scheduler releases the GIL.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, final

import numpy as np
from funlib.geometry import Coordinate, Roi

from .block import BlockStatus  # the plain enum.Enum of daisy 1.x (CREATED=0 ... FAILED=3)

__version__: str

@final
class Block:
    """daisy.Block (also daisy.block.Block): one placement of a task's read/write templates.

    Block(total_roi, read_roi, write_roi, block_id=None, task_id=None): with block_id None the
    spatial id is computed from total_roi and write_roi (docs/semantics.md#blocks-and-block-ids, negative index
    components clamped to 0). ROI attributes are created lazily on first access and cached.
    Equality and hash use block_id only; comparing with a non-Block is False. Setting an
    attribute that does not exist raises TypeError("<repr> is frozen, you can't add attributes
    to it"); every attribute below can be assigned (a ROI attribute stores the given object and
    returns it; `status` takes a BlockStatus member or its int value, else TypeError /
    ValueError; `block_id` takes a (task_id, spatial_id) tuple). Constructor arguments are kept
    as given (`block.read_roi is read_roi`); blocks made by the engine create their funlib Rois
    on first access. repr/str: "<task_id>/<spatial_id> with read ROI <roi> and write ROI <roi>".
    A negative or >= 2**64 block_id is a ValueError. task_id takes any value, as in daisy 1.x
    (kept as given; a Scheduler or DependencyGraph given a block whose task_id is not a str
    raises TaskTypeError). Picklable (copy, multiprocessing, daisy.messages): pickles as
    `Block._from_state(state)` with ROIs as plain tuples.
    """

    def __new__(
        cls,
        total_roi: Roi,
        read_roi: Roi,
        write_roi: Roi,
        block_id: int | None = None,
        task_id: Any = None,
    ) -> Block: ...
    read_roi: Roi
    write_roi: Roi
    requested_write_roi: Roi
    status: BlockStatus
    started_processing: float | None
    stopped_processing: float | None
    task_id: Any  # a str for blocks of a scheduler or graph
    block_id: tuple[Any, int]
    def copy(self) -> Block: ...  # independent deep copy
    def __copy__(self) -> Block: ...
    def __deepcopy__(self, memo: Any = None) -> Block: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...
    @classmethod
    def _from_state(cls, state: tuple) -> Block: ...  # unpickling only

def cantor_number(index: Sequence[int]) -> int:
    """The generalised Cantor number of a block index (docs/semantics.md#blocks-and-block-ids)."""

def expand_roi_to_grid(sub_roi: Roi, total_roi: Roi, read_roi: Roi, write_roi: Roi) -> Roi:
    """``sub_roi`` grown to the write grid of a task (docs/semantics.md#tiling)."""

def expand_request_roi_to_grid(req_roi: Roi, total_roi: Roi, read_roi: Roi, write_roi: Roi) -> Roi:
    """``expand_roi_to_grid``, then grown by the read context of the blocks."""

def expand_write_roi_to_grid(roi: Roi, write_roi: Roi) -> Roi:
    """``roi`` grown to the grid of ``write_roi.shape`` anchored at 0."""

DEFAULT_MAX_WORKER_RESTARTS: int
"""How many times crashed workers of a task are replaced unless the task says otherwise."""

@final
class TaskSpec:
    """The engine's copy of a daisy.Task, without its upstream tasks: validated on construction.

    The keywords are daisy.Task's argument names (so messages name the argument a user gave);
    an omitted or None keyword takes the engine's default:

    - read_write_conflict: anything truthy (default True);
    - fit: "valid" | "overhang" | "shrink" (default "valid");
    - num_workers (default 1): an int from 1 to 2**64 - 1; max_retries (default 2),
      max_worker_restarts (default DEFAULT_MAX_WORKER_RESTARTS): ints from 0 to 2**32 - 1 (a
      float with an integral value is accepted); out of range: a TaskError naming the
      argument and the range;
    - timeout: seconds (a number) or a datetime.timedelta, positive and finite; None: no limit;
      longer than about 100 years (the engine's MAX_TIMEOUT): clamped to it;
    - check_function: a pre-check, a tuple (pre_check, post_check) (either may be None), or
      None; checks are called block -> bool with the GIL (with a copy of the block); an
      exception is logged on the "daisy" logger ("pre_check() exception for block
      <task_id>/<spatial_id>" with the traceback) and counts as False (pre) / failure (post);
    - init_callback_fn: callable taking the DAISY_CONTEXT string of worker 0, or None; an
      exception aborts the run and propagates;
    - done_marker_path: str or os.PathLike, or None.

    Raises daisy.TaskError (a ValueError) for a value the engine rejects (mismatched ROI
    dimensions, unbounded ROIs, a negative total or read shape, a non-positive write shape, a
    task id that is not one safe path component (empty, ".", "..", "/", "\\", control
    characters, over 255 bytes) or holds ":" or "=", an unknown fit, counts out of range, a
    timeout that is not positive), daisy.RoiContainmentError (a TaskError and
    an AssertionError; the message starts with "Read ROI must contain write ROI.") for a write
    ROI outside the read ROI with read_write_conflict, and daisy.TaskTypeError (a TypeError)
    for an argument of the wrong type. Link specs to their upstream specs with link_tasks.
    """

    def __new__(
        cls,
        task_id: str,
        total_roi: Roi,
        read_roi: Roi,
        write_roi: Roi,
        *,
        read_write_conflict: bool | None = ...,
        fit: str | None = ...,
        num_workers: int | None = ...,
        max_retries: int | None = ...,
        timeout: Any | None = ...,  # seconds or a datetime.timedelta
        check_function: Any | None = ...,  # a callable or (pre_check, post_check)
        init_callback_fn: Callable[[str], None] | None = ...,
        max_worker_restarts: int | None = ...,
        done_marker_path: Any | None = ...,  # str or os.PathLike
        max_failures_before_success: int | None = ...,  # 0: never give up
    ) -> TaskSpec: ...
    @property
    def task_id(self) -> str: ...
    @property
    def total_write_roi(self) -> Roi: ...
    @property
    def num_blocks(self) -> int: ...
    @property
    def num_workers(self) -> int: ...
    @property
    def max_retries(self) -> int: ...
    @property
    def max_worker_restarts(self) -> int: ...
    @property
    def max_failures_before_success(self) -> int: ...  # 0: never give up
    @property
    def timeout(self) -> float | None: ...  # seconds
    @property
    def upstream_task_ids(self) -> list[str]: ...  # set by link_tasks

def link_tasks(tasks: list[TaskSpec], upstream: list[list[int]]) -> list[TaskSpec]:
    """The specs linked to their upstream specs, in the given order.

    upstream[i] lists the positions (in tasks) of the tasks task i reads from. Raises
    daisy.TaskGraphError (a ValueError) for two specs with one task id, a cycle (the message
    names its tasks in order: "the tasks form a cycle: 'a' -> 'b' -> 'a' ..."), a task and an
    upstream task that differ in dimensions, or a position that is not one of the tasks.
    """

@final
class Counters:
    """A task's counters, the engine's TaskState: daisy.TaskState asks these for its
    derived values (pending_count, is_done(), the text).

    Read-only values: comparable with ==, picklable; Counters(**fields) builds one (all
    fields default to False / 0; negative counts are an OverflowError). str() and repr() are
    daisy's text, one "Name: value" line per counter, each ending in a newline:
    "Started: True\nTotal Blocks: 4\nReady: 0\nProcessing: 0\nPending: 0\nCompleted: 4\n
    Skipped: 0\nFailed: 0\nOrphaned: 0\n"."""

    def __new__(
        cls,
        started: bool = False,
        total_block_count: int = 0,
        ready_count: int = 0,
        processing_count: int = 0,
        completed_count: int = 0,
        skipped_count: int = 0,
        failed_count: int = 0,
        orphaned_count: int = 0,
    ) -> Counters: ...
    @property
    def started(self) -> bool: ...
    @property
    def total_block_count(self) -> int: ...
    @property
    def ready_count(self) -> int: ...
    @property
    def processing_count(self) -> int: ...
    @property
    def completed_count(self) -> int: ...
    @property
    def skipped_count(self) -> int: ...
    @property
    def failed_count(self) -> int: ...
    @property
    def orphaned_count(self) -> int: ...
    @property
    def pending_count(self) -> int:
        """Blocks waiting for upstream blocks: the total minus every other count (0 if
        those exceed it)."""
    def is_done(self) -> bool:
        """Whether every block completed, failed or was orphaned."""
    def __eq__(self, other: object, /) -> bool: ...
    def __reduce__(
        self,
    ) -> tuple[type[Counters], tuple[bool, int, int, int, int, int, int, int]]: ...

@final
class BlockwiseDependencyGraph:
    """docs/semantics.md#tiling; attributes and methods as daisy.dependency_graph.BlockwiseDependencyGraph.

    BlockwiseDependencyGraph(task_id, block_read_roi, block_write_roi, read_write_conflict=True,
    fit="valid", total_read_roi=None, total_write_roi=None)
    """

    def __new__(
        cls,
        task_id: str,
        block_read_roi: Roi,
        block_write_roi: Roi,
        read_write_conflict: bool = True,
        fit: str = "valid",
        total_read_roi: Roi | None = None,
        total_write_roi: Roi | None = None,
    ) -> BlockwiseDependencyGraph: ...
    task_id: str
    block_read_roi: Roi
    block_write_roi: Roi
    read_write_context: tuple[Any, Any]  # two daisy.Coordinate
    total_read_roi: Roi
    total_write_roi: Roi
    rounding_term: Any  # daisy.Coordinate
    fit: str
    read_write_conflict: bool
    @property
    def level_stride(self) -> Any:  # daisy.Coordinate
        """The distance between two blocks of one level (docs/semantics.md#levels-and-conflicts)."""
    @property
    def grid_shape(self) -> Any:  # daisy.Coordinate
        """Blocks per dimension."""
    @property
    def largest_id(self) -> int | None:
        """The largest block id; None for a task without blocks."""
    def block_id(self, write_roi: Roi) -> int:
        """The block id of a write ROI of this task (fitted or not)."""
    @property
    def num_levels(self) -> int: ...
    @property
    def num_blocks(self) -> int: ...
    def num_roots(self) -> int: ...
    def level_offsets(self) -> list[Any]: ...  # daisy.Coordinate per level
    def level_conflicts(self) -> list[list[Any]]: ...
    def level_blocks(self, level: int) -> BlockIterator: ...  # lazy
    def root_gen(self) -> BlockIterator: ...
    def upstream(self, block: Block) -> list[Block]: ...
    def downstream(self, block: Block) -> list[Block]: ...
    def enumerate_all_dependencies(self) -> DependencyIterator: ...  # lazy
    def get_subgraph_blocks(self, sub_roi: Roi, read_roi: bool = False) -> list[Block]: ...
    def inclusion_criteria(self, block: Block) -> bool: ...
    def fit_block(self, block: Block) -> Block: ...  # a fitted copy
    def shrink_possible(
        self, block: Block
    ) -> bool: ...  # fit "shrink" and the write ROI begins inside
    def shrink(self, block: Block) -> Block: ...  # a copy cut to the totals, whatever the fit

@final
class BlockIterator(Iterator[Block]):
    """A lazy iterator over blocks; it keeps its graph alive. len(): the blocks not yet yielded."""

    def __iter__(self) -> BlockIterator: ...
    def __next__(self) -> Block: ...
    def __len__(self) -> int: ...
    def __length_hint__(self) -> int: ...

@final
class DependencyIterator(Iterator[tuple[Block, list[Block]]]):
    """A lazy iterator over (block, upstream blocks) pairs. len(): the pairs not yet yielded."""

    def __iter__(self) -> DependencyIterator: ...
    def __next__(self) -> tuple[Block, list[Block]]: ...
    def __len__(self) -> int: ...
    def __length_hint__(self) -> int: ...

@final
class DependencyGraph:
    """docs/semantics.md#tasks-that-depend-on-tasks over TaskSpecs (registration order: each task, then its upstream tasks)."""

    def __new__(cls, tasks: list[TaskSpec]) -> DependencyGraph: ...
    def task_ids(self) -> list[str]: ...
    def upstream_tasks(self, task_id: str) -> list[str]: ...
    def downstream_tasks(self, task_id: str) -> list[str]: ...
    def root_tasks(self) -> list[str]: ...
    def num_blocks(self, task_id: str) -> int: ...
    def num_roots(self, task_id: str) -> int: ...
    def root_gen(self, task_id: str) -> BlockIterator: ...
    def task_dependency_graph(self, task_id: str) -> BlockwiseDependencyGraph: ...
    def upstream(self, block: Block) -> list[Block]: ...
    def downstream(self, block: Block) -> list[Block]: ...

@final
class Scheduler:
    """The engine's scheduler (docs/semantics.md#scheduling). daisy.Scheduler wraps it.

    acquire_block runs the pre-check inline (with the GIL); a KeyboardInterrupt raised in the
    pre-check is raised by acquire_block (the interrupted block stays out). An unknown task id
    raises daisy.UnknownTaskError (a KeyError) from acquire_block, counters, abandon_task and
    release_block (for a block of an unknown task). release_block returns
    the ids of the tasks that gained ready blocks, in order (a retried block's task included);
    it raises daisy.BlockNotProcessingError (a KeyError) or daisy.BlockStatusError (a
    RuntimeError: "Unexpected status for released block: ...") before any state change.
    dependency_graph() returns the same object every time. The tasks are specs linked by
    link_tasks (their upstream tasks are scheduled too); daisy.TaskGraphError for two tasks with
    one id.
    """

    def __new__(cls, tasks: list[TaskSpec], count_all_orphans: bool = True) -> Scheduler: ...
    def acquire_block(self, task_id: str) -> Block | None: ...
    def release_block(self, block: Block) -> list[str]: ...
    def counters(self, task_id: str) -> Counters: ...
    def task_ids(self) -> list[str]: ...  # task_states order: root tasks first, then the others
    def ready_task_ids(self) -> list[str]: ...
    def dependency_graph(self) -> DependencyGraph: ...
    def abandon_task(self, task_id: str) -> None: ...

@final
class TaskStarted:
    """A run event: a task got its first ready blocks; its workers are started next."""

    @property
    def task_id(self) -> str: ...
    @property
    def counters(self) -> Counters: ...

@final
class BlockProgress:
    """A run event: blocks of a task were handed out or came back (one event for both)."""

    @property
    def task_id(self) -> str: ...
    @property
    def counters(self) -> Counters: ...

@final
class TaskDone:
    """A run event: every block of a task is completed, failed or orphaned."""

    @property
    def task_id(self) -> str: ...
    @property
    def counters(self) -> Counters: ...

@final
class BlockFailed:
    """A run event: a block attempt failed (the block may still be retried).

    `block` is known by id only (its ROIs are empty); `error` is the block function's
    exception repr, "lost: ..." or "post-check failed"; `worker_id` is None for a worker the
    server did not start; `log_basename` is None when worker output is not redirected."""

    @property
    def block(self) -> Block: ...
    @property
    def error(self) -> str: ...
    @property
    def worker_id(self) -> int | None: ...
    @property
    def log_basename(self) -> str | None: ...

@final
class TaskAbandoned:
    """A run event: a task was given up (no worker left, restart budget used up)."""

    @property
    def task_id(self) -> str: ...
    @property
    def counters(self) -> Counters: ...
    @property
    def reason(self) -> str: ...

@final
class RunFinished:
    """A run event, the last: the run ended (also when `run` raises afterwards)."""

    @property
    def interrupted(self) -> bool: ...
    @property
    def abandoned(self) -> dict[str, str]: ...  # task_id -> reason
    @property
    def report(self) -> RunReport: ...

def run(
    tasks: list[TaskSpec],
    *,
    launch_worker: Callable[[str, int, str, str | None], int],
    on_event: Callable[
        [TaskStarted | BlockProgress | TaskDone | BlockFailed | TaskAbandoned | RunFinished], None
    ]
    | None = None,
    host: str | None = None,
    logdir: str | None = None,
    prefetch: int = 32,
    stall_grace: float = 5.0,
    count_all_orphans: bool = True,
    tls: bool | None = None,
    launchers: dict[str, SlurmLauncher] = ...,
) -> RunReport:
    """Runs the tasks (upstream tasks included) with the Rust server, GIL released.

    The server's event loop runs on the thread that called `run` and never waits on Python
    code. Workers are started by calling `launch_worker(task_id, worker_id, daisy_context,
    log_basename)` with the GIL on a thread of the launch's own (one launch per task at a time;
    never more workers than `num_workers` or than blocks left), and a task's init callback and
    checks also run on threads of their own. It must start the worker as a new OS process that
    is a child of this process, in its own process group, and return its pid; the engine then
    watches it (waitpid) and, on timeouts or at the end, kills its group (killpg). Python does
    this with os.fork() (the child's only thread is then the launch thread): the child must
    NOT return into the engine: it resets
    SIGINT to Python's default handler, runs the worker on a NEW thread (a fresh thread has no
    engine state, so the worker's own `Client` can start its runtime), joins it, flushes and
    calls os._exit(code) (0 normally, 1 after an exception, which it reports first with
    `Client.client_exception`). `host`: None listens on loopback; a string listens on all interfaces and
    advertises that host ("" = detect). `tls`: None encrypts the connections with TLS unless
    the server listens on loopback (docs/protocol.md), True / False force it on / off. `on_event` is called with each event (TaskStarted,
    BlockProgress, TaskDone, BlockFailed, TaskAbandoned, RunFinished last), in order, on a
    delivery thread: while it is slow, a task's queued BlockProgress is replaced by the newer
    one, and RunFinished is delivered before `run` returns; no worker is forked while it runs
    (unless it takes over 100 ms). An exception it raises is logged and ignored, a
    KeyboardInterrupt stops the run like Ctrl-C.
    Ctrl-C (KeyboardInterrupt) stops handing out blocks, stops the workers and returns
    normally (the report says interrupted=True; the counters show what was left); an
    exception raised by another Python signal handler is raised after cleanup. A
    ClientException from a worker is raised after cleanup as RuntimeError (with the worker's
    error text); a failing init callback's own exception is raised after cleanup. If
    launch_worker raises or returns no pid, the exception is logged and the worker counts as
    one that crashed at start (replaced within max_worker_restarts, after a backoff).

    `launchers` {task_id: SlurmLauncher}: those tasks' workers are SLURM jobs, submitted,
    watched and cancelled by the engine (launch_worker is not called for them).

    Returns the engine's RunReport: counters per task id (in the report's order: tasks in
    the order they started, then the others), failures, interrupted, succeeded, summary.
    """

@final
class SlurmLauncher:
    """Workers as SLURM batch jobs, each running `program` with `args` (sbatch, watched
    with scontrol, cancelled with scancel; DAISY_CONTEXT in the job's environment).
    `pending_limit` (seconds, positive): a job still queued then is cancelled as a failed
    worker, SLURM's reason in the summary."""

    def __new__(
        cls,
        program: str,
        args: list[str],
        *,
        partition: str | None = None,
        time: str | None = None,
        mem: str | None = None,
        cpus_per_task: int | None = None,
        gpus: int | None = None,
        extra_args: list[str] = ...,
        pending_limit: float | None = None,
    ) -> SlurmLauncher: ...
    @property
    def command_line(self) -> str: ...  # the job's shell command, each word quoted

@final
class RunReport:
    """The outcome of a run (distributed or serial): every task's final counters, every
    failed block, and the engine's Execution Summary.

    RunReport(counters, failures=None, abandoned=None, interrupted=False) builds one from its
    parts: counters {task_id: Counters} (the report's task order), failures as dicts like those
    `failures` returns, abandoned {task_id: reason}."""

    def __new__(
        cls,
        counters: dict[str, Counters],
        failures: list[dict[str, Any]] | None = None,
        abandoned: dict[str, str] | None = None,
        interrupted: bool = False,
    ) -> RunReport: ...
    @property
    def summary(self) -> str: ...  # daisy's Execution Summary, as printed at the end of a run
    @property
    def succeeded(
        self,
    ) -> bool: ...  # every block succeeded or was skipped, nothing abandoned, not interrupted
    @property
    def interrupted(self) -> bool: ...
    @property
    def counters(self) -> dict[str, Counters]: ...  # in the report's task order
    @property
    def failures(
        self,
    ) -> list[dict[str, Any]]: ...  # task_id, spatial_id, worker_id, error, log_basename
    @property
    def abandoned(self) -> dict[str, str]: ...  # task_id -> reason

def run_serial(
    scheduler: Scheduler,
    process_functions: dict[str, Callable[[Block], Any]],
    observer: Any | None = None,
) -> RunReport:
    """Runs the scheduler's tasks in this thread, one block at a time (the engine's serial loop).

    Each round hands out a block of the first task (task_states order) with a ready block;
    `process_functions[task_id](block)` runs with the block as acquired (status CREATED). A
    block left FAILED fails ("block released as FAILED"), else its post-check may fail it
    ("post-check failed"); failures are retried as usual and recorded in the report (no worker,
    no logs). The observer's methods are called in order: on_task_start(task_id, counters)
    before a task's first acquire, on_acquire_block(task_id, counters), on_block_failure(block,
    error: str), on_release_block(task_id, counters), on_task_abandoned(task_id, counters,
    reason) once for a task whose first attempts all failed
    (docs/semantics.md#progress-and-the-execution-summary), on_task_done(task_id, counters)
    once per task. A Python exception from a block function or
    an observer method stops the run and is raised unchanged; so is a KeyboardInterrupt seen by
    a pre- or post-check, which then carries the report of the run so far (interrupted) as its
    `run_report` attribute. While the run goes on the scheduler cannot be used from Python
    (RuntimeError)."""

def parse_context(text: str) -> list[tuple[str, str]]:
    """The (key, value) items of a DAISY_CONTEXT text, in order, by the engine's one rule
    (docs/semantics.md#workers-and-daisy_context): the text is split at every ':'; an item
    with exactly one '=' is key=value as it is (either may be empty); an item key==value has
    its key and value percent-decoded; any key is kept; a repeated key keeps its first
    position and its last value. A ValueError names the first bad item and its position
    ("DAISY_CONTEXT item 2 'b=2=3' is not of the form key=value ...")."""

def format_context(items: list[tuple[str, str]]) -> str:
    """The DAISY_CONTEXT text of (key, value) items, in order, by the engine's rule: key=value
    joined by ':' as daisy 1.x writes it; an item whose key or value holds ':', '=' or NUL is
    written key==value with '%', ':', '=' and NUL percent-encoded in both."""

def _become_worker(server_pid: int, what: str, *, death_signal: bool = True) -> bool:
    """Makes a freshly forked process a worker that does not outlive the server process
    server_pid (docs/semantics.md#workers-and-daisy_context). With death_signal, the kernel
    sends SIGHUP when the forking thread ends (PR_SET_PDEATHSIG; ask for it only from a thread
    that outlives the workers, and install a SIGHUP handler first). Returns False, doing nothing else, if server_pid is no longer
    the parent. Otherwise starts a watchdog thread that kills the worker's process group (with
    a line "daisy: <what>: the scheduler process <pid> is gone" on stderr) if the parent
    changes, and replaces every inherited socket and epoll/eventfd/timerfd/signalfd/pidfd
    descriptor above 2 by /dev/null (tokio's inherited signal pipe by a fresh socket of the
    worker's own), keeping the numbers; regular files, pipes and terminals stay. OSError if a
    step fails."""

@final
class Client:
    """The blocking worker client (docs/semantics.md#workers-and-daisy_context); daisy.Client wraps it.

    Client(daisy_context: str, prefetch: Optional[int] = None): connects at once
    (ConnectionError if it cannot; ValueError for a malformed context); prefetch None takes the
    context's `prefetch` entry (1 if absent). Every call waiting on the network releases the
    GIL. Releases are queued and sent with the next request (acquire) or at disconnect, so a
    worker should call disconnect() (or drop the client) before it exits. No wait is
    unbounded: connect 10 s, handshake 15 s, each write 30 s (ClientError naming the server's
    host:port when one passes); acquire waits as long as the server keeps the request (no
    block ready yet), watched by TCP keepalive, and returns None if the server closes the
    connection (logged as a warning naming the server).
    """

    def __new__(cls, daisy_context: str, prefetch: int | None = None) -> Client: ...
    def acquire(self) -> Block | None: ...  # None: no more work (shutdown, closed, disconnected)
    def release(self, block: Block) -> None: ...  # status SUCCESS, else FAILED
    def fail(self, block: Block, error: str) -> None: ...  # BlockFailed with the text
    def client_exception(self, error: str) -> None: ...
    def disconnect(self) -> None: ...

# --- arrays (crates/py/src/array_metadata.rs, array.rs; the Rust crate daisy-array) ----------
#
# daisy.Array, daisy.open_ds and daisy.prepare_ds (python/daisy/array.py, datasets.py) build on
# these. Array errors map to funlib.persistence's classes: outside the array IndexError, no
# array at the path FileNotFoundError (FileExistsError for mode "w-"), not a zarr array or an
# unsupported dtype TypeError, an existing array prepare may not replace PermissionError,
# filesystem and codec failures OSError, anything else (metadata, ROIs off the voxel grid,
# writes to a read-only array) ValueError. Voxels cross as flat uint8 views of C-contiguous
# numpy arrays of the array's dtype (native byte order), read into and written from in place
# with the GIL released.

DEFAULT_CACHE_BYTES: int  # decoded-chunk cache of an opened array, bytes

@final
class ArrayMetadata:
    """Offset, voxel size and units per physical dimension; axis names and types per dimension."""

    def __new__(
        cls,
        offset: Sequence[int],
        voxel_size: Sequence[int],
        axis_names: Sequence[str],
        units: Sequence[str],
        types: Sequence[str],
    ) -> ArrayMetadata: ...
    @staticmethod
    def resolve(
        shape: Sequence[int],
        offset: Sequence[int] | None = None,
        voxel_size: Sequence[int] | None = None,
        axis_names: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        strict: bool = False,
    ) -> ArrayMetadata: ...  # funlib.persistence's defaults for what is not given
    @property
    def offset(self) -> Coordinate: ...
    @property
    def voxel_size(self) -> Coordinate: ...
    @property
    def axis_names(self) -> list[str]: ...
    @property
    def units(self) -> list[str]: ...
    @property
    def types(self) -> list[str]: ...
    @property
    def channel_dims(self) -> int: ...
    def validate(self, shape: Sequence[int], strict: bool = False) -> None: ...  # ValueError
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...

@final
class MetaDataFormat:
    """funlib.persistence's MetaDataFormat: the attribute names (or a/b/{dim}/c paths)."""

    def __new__(
        cls,
        offset_attr: str = ...,  # "offset"
        voxel_size_attr: str = ...,  # "voxel_size"
        axis_names_attr: str = ...,  # "axis_names"
        units_attr: str = ...,  # "units"
        types_attr: str = ...,  # "types"
    ) -> MetaDataFormat: ...
    @property
    def offset_attr(self) -> str: ...
    @property
    def voxel_size_attr(self) -> str: ...
    @property
    def axis_names_attr(self) -> str: ...
    @property
    def units_attr(self) -> str: ...
    @property
    def types_attr(self) -> str: ...
    def parse(
        self,
        shape: Sequence[int],
        attrs_json: str,
        offset: Sequence[int] | None = None,
        voxel_size: Sequence[int] | None = None,
        axis_names: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        strict: bool = False,
    ) -> ArrayMetadata: ...  # arguments over stored values (older forms too) over defaults
    def write(self, metadata: ArrayMetadata) -> str: ...  # the attributes, a JSON object
    def model_dump(self) -> dict[str, str]: ...
    def __reduce__(self) -> tuple[Any, tuple[str, str, str, str, str]]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __ne__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

def read_metadata_config() -> dict[str, str]:
    """The MetaDataFormat fields funlib.persistence's configuration files set."""

@final
class ArrayLayout:
    """Where an array lies in world units; containment and world-to-voxel rules."""

    def __new__(cls, shape: Sequence[int], metadata: ArrayMetadata) -> ArrayLayout: ...
    @property
    def roi(self) -> Roi: ...
    def voxel_region(self, roi: Roi) -> list[tuple[int, int]]: ...  # IndexError, ValueError
    def coordinate_index(self, coordinate: Sequence[int]) -> list[int]: ...  # IndexError
    def to_ndarray_plan(
        self, roi: Roi
    ) -> tuple[
        list[int], list[tuple[int, int]] | None, list[tuple[int, int]] | None
    ]: ...  # (output shape, region in the array, region in the output)

@final
class ZarrArray:
    """One Zarr array (v2 or v3) on a filesystem; a handle belongs to the process that opened it."""

    @staticmethod
    def open(
        path: str | os.PathLike[str],
        mode: str = "r",
        metadata_format: MetaDataFormat | None = None,
        offset: Sequence[int] | None = None,
        voxel_size: Sequence[int] | None = None,
        axis_names: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        strict_metadata: bool = False,
        cache_bytes: int = ...,
    ) -> ZarrArray: ...
    @staticmethod
    def prepare(
        path: str | os.PathLike[str],
        shape: Sequence[int],
        dtype: str,
        mode: str = "a",
        offset: Sequence[int] | None = None,
        voxel_size: Sequence[int] | None = None,
        axis_names: Sequence[str] | None = None,
        units: Sequence[str] | None = None,
        types: Sequence[str] | None = None,
        chunk_shape: Sequence[int] | None = None,
        custom_metadata: str | None = None,  # a JSON object
        metadata_format: MetaDataFormat | None = None,
        zarr_format: int = 3,
        compressor: str | None = None,  # numcodecs-style JSON; "null": none; None: zstd level 0
        cache_bytes: int = ...,
    ) -> ZarrArray: ...
    @property
    def path(self) -> str: ...
    @property
    def shape(self) -> list[int]: ...
    @property
    def chunk_shape(self) -> list[int]: ...
    @property
    def dtype(self) -> str: ...  # numpy name
    @property
    def metadata(self) -> ArrayMetadata: ...
    @property
    def layout(self) -> ArrayLayout: ...
    @property
    def is_writeable(self) -> bool: ...
    def attrs_json(self) -> str: ...
    def set_attrs_json(self, attrs_json: str) -> None: ...  # merged into the stored attributes
    def remove_attr(self, key: str) -> bool: ...
    def read_voxels(self, region: Sequence[tuple[int, int]], out: np.ndarray) -> None: ...
    def write_voxels(self, region: Sequence[tuple[int, int]], data: np.ndarray) -> None: ...
    def stats(self) -> dict[str, int]: ...

@final
class GraphStore:
    """A spatial graph store (SQLite or PostgreSQL) in funlib.persistence's layouts."""

    @staticmethod
    def sqlite(
        db_file: str | os.PathLike[str],
        mode: str,
        options: dict[str, Any] | None = None,  # position_attribute, ..., node_attrs
    ) -> GraphStore: ...
    @staticmethod
    def postgres(
        db_name: str,
        mode: str,
        db_host: str | None = None,
        db_user: str | None = None,
        db_password: str | None = None,
        db_port: int | None = None,
        options: dict[str, Any] | None = None,
    ) -> GraphStore: ...
    def metadata(self) -> dict[str, Any]: ...
    @property
    def mode(self) -> str: ...
    def write(
        self,
        nodes: dict[Any, Any],
        edges: Any = None,  # (adjacency, directed) or (u, v, data) triples
        roi: Roi | None = None,
        node_attrs: Sequence[str] | None = None,
        edge_attrs: Sequence[str] | None = None,
        write_nodes: bool = True,
        fail_if_exists: bool = False,
    ) -> tuple[int, int]: ...
    def update(
        self,
        nodes: dict[Any, Any],
        edges: Any = None,
        roi: Roi | None = None,
        node_attrs: Sequence[str] | None = None,
        edge_attrs: Sequence[str] | None = None,
    ) -> tuple[int, int]: ...
    def read_graph(
        self,
        graph: Any,  # a new networkx Graph or DiGraph, filled in place
        roi: Roi | None = None,
        read_edges: bool = True,
        node_attrs: Sequence[str] | None = None,
        edge_attrs: Sequence[str] | None = None,
        nodes_filter: dict[str, Any] | None = None,
        edges_filter: dict[str, Any] | None = None,
        fetch_on_v: bool = False,
    ) -> None: ...
    def read_nodes(
        self,
        roi: Roi | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]: ...
    def read_edges(
        self,
        roi: Roi | None = None,
        nodes: Sequence[int] | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: Sequence[str] | None = None,
        fetch_on_v: bool = False,
    ) -> list[dict[str, Any]]: ...
    def num_nodes(self, roi: Roi | None = None) -> int: ...
    def has_edges(self, roi: Roi | None = None) -> bool: ...
    def begin_bulk_write(self, worker: bool = False) -> None: ...
    def end_bulk_write(self) -> None: ...
    @staticmethod
    def mongodb(
        db_name: str,
        mode: str,
        host: str | None = None,
        meta_collection: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> GraphStore: ...
    @staticmethod
    def file(
        directory: str | os.PathLike[str],
        mode: str,
        chunk_size: Sequence[int] | None = None,
        options: dict[str, Any] | None = None,
    ) -> GraphStore: ...
    def covered(
        self, nodes: dict[Any, Any], edges: Any = None, roi: Roi | None = None
    ) -> tuple[int, int]: ...
    def read_nodes_joined(
        self,
        join_collection: str,
        roi: Roi | None = None,
        attr_filter: dict[str, Any] | None = None,
        read_attrs: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]: ...
    def write_node_features(
        self, collection: str, nodes: dict[Any, Any], fail_if_exists: bool = False
    ) -> int: ...
    @property
    def untyped(self) -> bool: ...
    def close(self) -> None: ...
    def summary(self) -> str | None: ...
    def describe(self) -> str: ...
