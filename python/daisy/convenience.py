"""``daisy.run_blockwise``: the one call most scripts need (docs/semantics.md#run_blockwise)."""

from collections.abc import Sequence
from typing import Any

from .cl_monitor import CLMonitor
from .serial_server import SerialServer
from .server import Server
from .task import Task, _collect_tasks

__all__ = ["run_blockwise"]


def run_blockwise(
    tasks: Task | Sequence[Task],
    multiprocessing: bool = True,
    *,
    progress: Any = True,
    host: str | None = None,
) -> bool:
    """Schedules and runs the given tasks and the tasks they depend on.

    Args:

        tasks (list of :class:`daisy.Task`):
            The tasks to run. Their upstream tasks are run too.

        multiprocessing (``bool``, optional):
            True (the default): run every task's workers as separate processes talking to
            a server in this process. False: run every block in this process, one after
            the other (for debugging; exceptions propagate).

        progress (keyword only):
            True (the default) shows progress bars and prints the Execution Summary;
            False shows neither; an observer object (with the hooks of
            :class:`daisy.server_observer.ServerObserver`) is registered instead.

        host (``str``, optional, keyword only):
            Where workers reach the server, as :class:`daisy.Server`'s ``host``: None (the
            default) listens on loopback (on all interfaces if a task's workers are SLURM
            jobs), a string listens on all interfaces and advertises it (``""``: this
            machine's default-route address).

    Returns:

        ``bool``: the engine's verdict (``run_report.succeeded`` of the server): True if
        every block of every task succeeded (or was skipped), False if a block failed, was
        orphaned or abandoned, or the run was interrupted. Ctrl-C during a run with
        ``multiprocessing=True`` stops the workers, prints the summary and returns False
        (as daisy 1.x's ``run_blockwise`` does; :meth:`daisy.Server.run_blockwise` raises
        ``KeyboardInterrupt`` instead).
    """
    tasks = _collect_tasks(tasks)
    server = Server(host=host) if multiprocessing else SerialServer()
    if progress is True or progress is None:
        CLMonitor(server)
    elif progress is not False:
        server.register_observer(progress)
    try:
        server.run_blockwise(tasks)
    except KeyboardInterrupt:
        if not multiprocessing:
            raise  # serial runs are for debugging: exceptions propagate
        return False
    report = server.run_report
    return report is not None and bool(report.succeeded)
