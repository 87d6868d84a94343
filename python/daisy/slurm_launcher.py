"""``SlurmLauncher``: a task's workers as SLURM batch jobs (docs/cluster.md).

::

    task = daisy.Task(..., process_function=segment, num_workers=50,
                      launcher=daisy.SlurmLauncher(partition="gpu", time="2:00:00", gpus=1))

Each worker is one ``sbatch`` job running ``python -m daisy.worker`` with this interpreter,
which imports the task's function by module and name and runs it: a block function for
every block, a spawn function once. The engine submits, watches (``scontrol``) and cancels
(``scancel``) the jobs; a run that ends, fails or is interrupted leaves none queued or
running.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import _daisy
from .errors import TaskError, TaskTypeError

if TYPE_CHECKING:
    from .task import Task

__all__ = ["SlurmLauncher"]


class SlurmLauncher:
    """Starts a task's workers as SLURM jobs, one job per worker.

    Args:

        partition, time, mem (``str``, optional):
            ``sbatch``'s ``--partition``, ``--time`` (``"30"``, ``"2:00:00"``, ``"1-00"``)
            and ``--mem`` (``"16G"``).

        cpus_per_task, gpus (``int``, optional):
            ``--cpus-per-task`` and ``--gpus``.

        extra_args (sequence of ``str``, optional):
            Further ``sbatch`` arguments as given (``["--account=lab", "--qos=short"]``).

        pending_limit (``float``, optional, keyword only):
            Seconds a job may wait in the queue; a job still pending then is cancelled and
            counts as a failed worker (against ``max_worker_restarts``), with SLURM's reason
            for the wait in the run's summary and the worker's ``.err`` log. None (the
            default): jobs may wait as long as SLURM keeps them.

    The task's ``process_function`` must be importable by module and name (a function at
    the top level of a module or of the script being run); a closure, lambda or bound
    method is a :class:`daisy.TaskTypeError` when the task is made. Jobs inherit this
    process's environment and working directory; their output goes to
    ``daisy_logs/<task>/worker_<id>.out/.err``. A run with SLURM tasks listens on all
    interfaces and advertises this machine's address unless ``Server(host=...)`` says
    which; the connections are encrypted with TLS.
    """

    def __init__(
        self,
        partition: str | None = None,
        time: str | None = None,
        mem: str | None = None,
        cpus_per_task: int | None = None,
        gpus: int | None = None,
        extra_args: Sequence[str] = (),
        *,
        pending_limit: float | None = None,
    ) -> None:
        if isinstance(extra_args, str):
            raise TaskTypeError(
                f"extra_args must be a sequence of arguments, got the string {extra_args!r}"
            )
        self.partition = partition
        self.time = time
        self.mem = mem
        self.cpus_per_task = cpus_per_task
        self.gpus = gpus
        self.extra_args = tuple(extra_args)
        self.pending_limit = pending_limit
        # The engine checks the options now (types, a positive pending limit).
        self._engine([])

    def _engine(self, args: list[str]) -> _daisy.SlurmLauncher:
        """The engine's launcher of jobs running this interpreter with ``args``."""
        try:
            return _daisy.SlurmLauncher(
                sys.executable,
                args,
                partition=self.partition,
                time=self.time,
                mem=self.mem,
                cpus_per_task=self.cpus_per_task,
                gpus=self.gpus,
                extra_args=list(self.extra_args),
                pending_limit=self.pending_limit,
            )
        except TypeError as e:
            raise TaskTypeError(f"SlurmLauncher: {e}") from None
        except ValueError as e:
            raise TaskError(f"SlurmLauncher: {e}") from None

    def _for_task(self, task: Task) -> _daisy.SlurmLauncher:
        """The engine's launcher of ``task``'s workers: jobs running its function."""
        from .function_worker import target_of  # it imports the client: not at import time

        try:
            target, paths = target_of(task.process_function)
        except TaskTypeError as e:
            raise TaskTypeError(
                f"task {task.task_id!r} runs its workers as SLURM jobs: {e}"
            ) from None
        args = ["-m", "daisy.worker"]
        for path in paths:
            args += ["--path", path]
        return self._engine([*args, target])

    def __repr__(self) -> str:
        options = {
            name: value for name, value in vars(self).items() if value is not None and value != ()
        }
        listed = ", ".join(f"{name}={value!r}" for name, value in options.items())
        return f"SlurmLauncher({listed})"
