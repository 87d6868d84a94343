"""The distributed run: a scheduler server and worker processes (docs/semantics.md#the-distributed-run, #workers-and-daisy_context).

The server itself is the engine's (``_daisy.run``): it listens for workers, hands out
blocks, retries failures and lost blocks, enforces timeouts and restarts workers. This
module starts the worker processes for it and forwards its events to the observers.

Workers are forked from this process, so block functions (closures, lambdas, bound
methods, ...) run in them without being pickled.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from . import _daisy
from .client import _context_from_string
from .context import Context
from .errors import ClientError
from .logging import get_log_basedir, redirect_stdouterr, set_log_basedir
from .remote_error import RemoteException
from .server_observer import ServerObservee
from .task import _collect_tasks, _specs
from .task_state import TaskState, _observed_state

if TYPE_CHECKING:
    from .scheduler import Scheduler
    from .task import Task

    RunEvent = (
        _daisy.TaskStarted
        | _daisy.BlockProgress
        | _daisy.TaskDone
        | _daisy.BlockFailed
        | _daisy.TaskAbandoned
        | _daisy.RunFinished
    )

logger = logging.getLogger(__name__)

__all__ = ["Server"]


class StopEvent(Protocol):
    """What ``Server`` needs of a stop event (a :class:`threading.Event` has it)."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


class Server(ServerObservee):
    """Runs tasks with worker processes.

    Args:

        stop_event (optional):
            Any object with ``is_set()`` and ``set()`` (a :class:`threading.Event` if not
            given). Setting it stops a run: no further blocks are handed out, the workers
            are stopped and :meth:`run_blockwise` returns.

        host (``str``, optional):
            None (the default): the server listens on the loopback interface, for workers
            on this machine. A string: it listens on all interfaces and tells workers to
            connect to ``host`` (``""``: the address of this machine's default route), for
            spawn functions that start workers elsewhere (e.g. cluster jobs). A run with a
            task whose ``launcher`` is a :class:`daisy.SlurmLauncher` listens as for ``""``
            when ``host`` is None.

        prefetch (``int``, keyword only):
            The most blocks a worker started by the server asks for at a time (default 32).
            A worker asks for one block at a time while its blocks take long, as daisy
            does, and for up to ``prefetch`` only while they take under about 2 ms, so the
            network round trip hides behind quick blocks and no worker hoards slow ones.

        stall_grace (``float``, keyword only):
            Seconds a task may have ready blocks but no worker before a replacement
            worker is started (default 5).

        tls (``bool``, optional, keyword only):
            Whether the connections to the workers are encrypted with TLS (a certificate
            generated for each run, trusted by the fingerprint in each worker's
            ``DAISY_CONTEXT``: nothing to set up). None (the default): encrypted unless the
            server listens on loopback, i.e. whenever ``host`` is given.

    Constructing a Server does nothing else: the engine opens its listening socket when
    :meth:`run_blockwise` starts. ``hostname`` and ``port`` are the address workers
    connect to; ``port`` is known once a run has started workers (it is that of the last
    run) and None before.

    After a run, ``run_report`` is the engine's :class:`daisy._daisy.RunReport` of it
    (``succeeded``, ``summary``, ``counters``, ``failures``), or None if the run failed to
    start; it is set before the observers hear ``on_server_exit``.
    """

    def __init__(
        self,
        stop_event: StopEvent | None = None,
        host: str | None = None,
        *,
        prefetch: int = 32,
        stall_grace: float = 5.0,
        tls: bool | None = None,
    ) -> None:
        super().__init__()
        self.stop_event: StopEvent = stop_event if stop_event is not None else threading.Event()
        self.host = host
        self.hostname: str | None = host if host else ("127.0.0.1" if host is None else None)
        self.port: int | None = None
        self.prefetch = int(prefetch)
        self.stall_grace = float(stall_grace)
        self.tls = None if tls is None else bool(tls)
        self.scheduler: Scheduler | None = None
        self.failures: list[dict[str, Any]] = []
        self.interrupted = False
        self.run_report: _daisy.RunReport | None = None
        self._tasks_by_id: dict[str, Task] = {}
        self._states: dict[str, TaskState] = {}
        self._exit_notified = True
        self._stopping = False

    def run_blockwise(
        self, tasks: Task | Iterable[Task], scheduler: Scheduler | None = None
    ) -> dict[str, TaskState]:
        """Runs the tasks, with their upstream tasks, until every block is done.

        Each task gets ``num_workers`` worker processes. Returns ``{task_id: TaskState}``
        for every task run.

        Setting ``stop_event`` stops the run: no further blocks are handed out, the workers
        are stopped, the summary is printed and the states so far are returned. Ctrl-C
        stops it the same way, then raises ``KeyboardInterrupt`` (as daisy 1.x's and 2.0's
        servers do). A spawn function that raises is a failed worker, replaced within the
        task's ``max_worker_restarts`` (docs/semantics.md#worker-restarts). An exception
        raised by an ``init_callback_fn``, or sent by a client with
        ``client_exception``, is raised here after the workers were stopped.
        """
        count_all_orphans = bool(getattr(scheduler, "count_all_orphans", True))
        all_tasks = _collect_tasks(tasks, scheduler)
        specs = _specs(all_tasks)
        self.scheduler = scheduler
        self._tasks_by_id = {task.task_id: task for task in all_tasks}
        self._states = {}
        self.failures = []
        self.interrupted = False
        self.run_report = None
        self._exit_notified = False
        self._stopping = False
        # The engine listens on a new port for every run; learnt from the first worker.
        self.port = None
        logdir = get_log_basedir()
        launchers = {
            task.task_id: task.launcher._for_task(task)
            for task in all_tasks
            if task.launcher is not None
        }
        host = self.host
        if launchers and host is None:
            # Jobs on other machines must reach the server.
            host = ""
            logger.info(
                "tasks %s run their workers as cluster jobs: listening on all interfaces",
                ", ".join(sorted(launchers)),
            )
        if host == "":
            self.hostname = None

        try:
            report = _daisy.run(
                specs,
                launch_worker=self._launch_worker,
                on_event=self._on_event,
                host=host,
                launchers=launchers,
                logdir=None if logdir is None else str(logdir),
                prefetch=self.prefetch,
                stall_grace=self.stall_grace,
                count_all_orphans=count_all_orphans,
                tls=self.tls,
            )
        finally:
            if self._stopping:
                _drain_interrupt()
            self._notify_exit()

        if report.interrupted and not self._stopping:
            # Ctrl-C, not the stop event: the summary is printed, now the caller hears it.
            raise KeyboardInterrupt
        self.failures = list(report.failures)
        counters = report.counters
        states = {
            task_id: _observed_state(self._states, task_id, task_counters)
            for task_id, task_counters in counters.items()
        }
        if scheduler is not None and hasattr(scheduler, "_fix_states"):
            scheduler._fix_states(counters)
            return scheduler.task_states
        return states

    # --- engine callbacks ------------------------------------------------------------

    def _on_event(self, event: RunEvent) -> None:
        """Forwards one engine event to the observers (called with the GIL)."""
        match event:
            case _daisy.BlockProgress():
                state = self._state(event.task_id, event.counters)
                self._notify("release", self.notify_release_block, event.task_id, state)
            case _daisy.TaskStarted():
                state = self._state(event.task_id, event.counters)
                self._notify("task_start", self.notify_task_start, event.task_id, state)
            case _daisy.TaskDone():
                state = self._state(event.task_id, event.counters)
                self._notify("task_done", self.notify_task_done, event.task_id, state)
            case _daisy.BlockFailed():
                block = event.block
                context = self._failure_context(block.task_id, event)
                exception = RemoteException.from_repr(event.error)
                self._notify("block_failure", self.notify_block_failure, block, exception, context)
            case _daisy.TaskAbandoned():
                state = self._state(event.task_id, event.counters)
                self._notify(
                    "task_abandoned",
                    self.notify_task_abandoned,
                    event.task_id,
                    state,
                    event.reason,
                )
            case _daisy.RunFinished():
                self.interrupted = event.interrupted
                self.run_report = event.report
                self._notify_exit()
                return
        if not self._stopping and self.stop_event.is_set():
            # The engine treats a KeyboardInterrupt raised here like Ctrl-C.
            self._stopping = True
            raise KeyboardInterrupt("daisy: stop_event was set")

    def _state(self, task_id: str, counters: _daisy.Counters) -> TaskState:
        """The TaskState observers get for a task, updated to ``counters``."""
        return _observed_state(self._states, task_id, counters)

    def _notify_exit(self) -> None:
        """Tells the observers the run is over, once per run."""
        if not self._exit_notified:
            self._exit_notified = True
            self._notify("exit", self.notify_server_exit)

    def _notify(self, kind: str, notify: Callable[..., None], *args: Any) -> None:
        try:
            notify(*args)
        except Exception:
            logger.exception("A daisy server observer failed on the %r event", kind)

    def _failure_context(self, task_id: str | None, event: _daisy.BlockFailed) -> Context:
        items: dict[str, Any] = dict(
            hostname=self.hostname,
            port=self.port,
            task_id=task_id,
            worker_id=event.worker_id,
        )
        if event.log_basename is not None:
            items["log_basename"] = event.log_basename
        return Context(**items)

    def _launch_worker(
        self, task_id: str, worker_id: int, daisy_context: str, log_basename: str | None
    ) -> int:
        """Starts one worker process (called by the engine with the GIL); returns its pid.

        The worker dies with this process and holds none of the server's descriptors
        (see ``_worker_process``).
        """
        task = self._tasks_by_id[task_id]
        if self.port is None or self.hostname is None:
            self._learn_address(daisy_context)
        server_pid = os.getpid()
        return _FORKER.fork(
            lambda: _worker_process(task, worker_id, daisy_context, log_basename, server_pid)
        )

    def _learn_address(self, daisy_context: str) -> None:
        context = _context_from_string(daisy_context)
        self.hostname = context.get("hostname", self.hostname)
        port = context.get("port")
        if port is not None:
            try:
                self.port = int(port)
            except ValueError:
                pass


class _ForkThread:
    """Forks worker processes from one thread that lives as long as this process.

    A worker's parent-death signal (``PR_SET_PDEATHSIG``) fires when the *thread* that forked
    it ends, and the engine launches each worker from a short-lived thread of its own:
    forking here instead ties the signal to the life of the scheduler process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[tuple[Callable[[], None], queue.SimpleQueue[Any]]]
        self._requests = queue.SimpleQueue()
        self._pid: int | None = None

    def fork(self, child: Callable[[], None]) -> int:
        """Forks; the child runs ``child`` (which must end the process). Returns its pid."""
        with self._lock:
            if self._pid != os.getpid():
                # First use in this process (a forked process's copy of the thread is gone).
                self._requests = queue.SimpleQueue()
                self._pid = os.getpid()
                threading.Thread(target=self._serve, name="daisy-fork", daemon=True).start()
            requests = self._requests
        done: queue.SimpleQueue[Any] = queue.SimpleQueue()
        requests.put((child, done))
        result = done.get()
        if isinstance(result, BaseException):
            raise result
        return int(result)

    def _serve(self) -> None:
        requests = self._requests
        while True:
            child, done = requests.get()
            _flush_stdio()
            try:
                pid = os.fork()
            except BaseException as e:
                done.put(e)
                continue
            if pid == 0:  # pragma: no cover  (runs in the child)
                try:
                    child()
                finally:
                    os._exit(1)
            done.put(pid)


_FORKER = _ForkThread()


def _drain_interrupt() -> None:
    """Consumes the stop request raised in ``_on_event`` if the run ended before the
    engine saw it, so that it does not interrupt a later call into the engine."""
    try:
        _daisy.Scheduler([]).acquire_block("")
    except (KeyboardInterrupt, KeyError):  # no pending stop: the task "" is unknown
        pass


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except Exception:
            pass


def _worker_process(  # pragma: no cover
    task: Task,
    worker_id: int,
    daisy_context: str,
    log_basename: str | None,
    server_pid: int,
) -> None:
    """The body of a forked worker process (forked by ``_FORKER``). Never returns.

    The worker never outlives the server process ``server_pid``
    (docs/semantics.md#workers-and-daisy_context): the kernel sends it ``SIGHUP`` when the
    server dies, a watchdog thread kills it if its parent changes, and it holds none of
    the server's sockets, so its connection ends when the server does.
    """
    code = 1
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ[Context.ENV_VARIABLE] = daisy_context
        context = _context_from_string(daisy_context)
        what = (
            f"worker {worker_id} of task {task.task_id} "
            f"(server {context.get('hostname')}:{context.get('port')})"
        )
        # The server stops workers with signals: a handler the user installed in the
        # parent must not keep a worker alive.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        # The parent-death signal (see _become_worker).
        signal.signal(signal.SIGHUP, _scheduler_gone_handler(server_pid, what))
        logdir = context.get("logdir")
        set_log_basedir(None if logdir is None or logdir == "None" else logdir)
        _forget_progress_bars()
        if log_basename is not None:
            redirect_stdouterr(log_basename)
        if not _daisy._become_worker(server_pid, what):
            print(
                f"daisy: {what}: the scheduler process {server_pid} is gone; not starting",
                file=sys.stderr,
                flush=True,
            )
            os._exit(1)
        outcome: dict[str, int] = {}
        thread = threading.Thread(
            target=_run_worker_function,
            args=(
                task.spawn_worker_function,
                f"worker {worker_id} of task {task.task_id}",
                outcome,
            ),
            name=f"daisy-worker-{worker_id}",
            daemon=True,
        )
        thread.start()
        thread.join()
        code = outcome.get("code", 1)
        # Clients kept alive only by reference cycles: dropping them sends their queued
        # releases and says goodbye.
        gc.collect()
    except KeyboardInterrupt:
        code = 0
    except BaseException:
        try:
            traceback.print_exc()
        except BaseException:
            pass
        code = 1
    finally:
        _flush_stdio()
        os._exit(code)


def _scheduler_gone_handler(  # pragma: no cover
    server_pid: int, what: str
) -> Callable[[int, Any], None]:
    """The ``SIGHUP`` handler of a worker: the parent-death signal, sent when the server
    process ends (the server itself never sends ``SIGHUP``).

    The worker says so on its stderr (its ``.err`` log) and kills its process group, so the
    programs it started end with it.
    """

    def handler(signum: int, frame: Any) -> None:
        # The signal comes as the server's threads end, a moment before this process is
        # handed to another parent.
        deadline = time.monotonic() + 0.5
        while os.getppid() == server_pid and time.monotonic() < deadline:
            time.sleep(0.01)
        reason = "is gone" if os.getppid() != server_pid else "is ending (SIGHUP)"
        try:
            print(
                f"daisy: {what}: the scheduler process {server_pid} {reason}; stopping this worker",
                file=sys.stderr,
                flush=True,
            )
        except BaseException:
            pass
        if os.getpgrp() == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    return handler


def _run_worker_function(  # pragma: no cover
    function: Callable[[], Any], what: str, outcome: dict[str, int]
) -> None:
    """Runs the spawn function (or block loop) of worker ``what`` (``worker 3 of task A``),
    setting ``outcome["code"]`` to the worker's exit code.

    An exception it raises makes this a failed worker (exit code 1, traceback in the
    worker's ``.err`` log), which the engine replaces within the task's
    ``max_worker_restarts`` (docs/semantics.md#worker-restarts); it does not abort the run.
    A ``KeyboardInterrupt`` ends the worker quietly.
    """
    try:
        function()
        outcome["code"] = 0
    except KeyboardInterrupt:
        outcome["code"] = 0
    except SystemExit as e:
        if e.code is None:
            outcome["code"] = 0
        elif isinstance(e.code, int):
            outcome["code"] = e.code
        else:
            print(e.code, file=sys.stderr)
            outcome["code"] = 1
    except ClientError as e:
        # The server is gone or hung: one line says which and what happened.
        outcome["code"] = 1
        try:
            print(f"daisy: {what} stops: {e}", file=sys.stderr)
        except BaseException:
            pass
    except BaseException as e:
        outcome["code"] = 1
        try:
            # Straight to the worker's stderr (its .err log), whatever logging is set up.
            print(f"daisy: {what} failed with {e!r}", file=sys.stderr)
            traceback.print_exc()
        except BaseException:
            pass
    finally:
        _flush_stdio()


def _forget_progress_bars() -> None:  # pragma: no cover
    """Drops the parent's progress bars in a worker, so that log lines written there do
    not redraw them into the worker's log files."""
    tqdm_module = sys.modules.get("tqdm")
    if tqdm_module is None:
        return
    try:
        instances = getattr(tqdm_module.tqdm, "_instances", None)
        if instances is not None:
            instances.clear()
    except Exception:
        pass
