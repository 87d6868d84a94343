"""daisy: block-wise task scheduling for large nD volumes.

A drop-in replacement of daisy 1.x backed by a Rust engine::

    import daisy

    def process(block):
        ...  # read block.read_roi, write block.write_roi

    task = daisy.Task(
        "smooth",
        total_roi=daisy.Roi((0, 0, 0), (528, 528, 528)),
        read_roi=daisy.Roi((0, 0, 0), (80, 80, 80)),
        write_roi=daisy.Roi((8, 8, 8), (64, 64, 64)),
        process_function=process,
        num_workers=8,
    )
    assert daisy.run_blockwise([task])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# `_legacy_names` (before the modules that import daisy 1.x's names) makes the 1.x module
# names of the stand-ins in daisy/legacy/ importable, without importing any of them.
from . import _daisy, _legacy_names

# daisy 1.x's modules that scripts reach as attributes of the package (`daisy.cl_monitor`).
from . import cl_monitor as cl_monitor
from . import errors as errors
from . import freezable as freezable
from . import persistence as persistence
from . import server_observer as server_observer
from . import task_state as task_state
from .array import Array
from .block import Block, BlockStatus
from .blocks import expand_roi_to_grid, expand_write_roi_to_grid
from .client import Client
from .context import Context
from .convenience import run_blockwise
from .coordinate import Coordinate
from .datasets import open_ds, prepare_ds
from .dependency_graph import BlockwiseDependencyGraph, DependencyGraph
from .errors import *  # noqa: F403  (DaisyError and its subclasses, listed in errors.__all__)
from .logging import get_worker_log_basename, redirect_stdouterr
from .roi import Roi
from .scheduler import Scheduler
from .serial_server import SerialServer
from .server import Server
from .slurm_launcher import SlurmLauncher
from .task import Task

if TYPE_CHECKING:
    # What __getattr__ hands out, for type checkers (which do not run it).
    from .legacy import block_bookkeeper as block_bookkeeper
    from .legacy import messages as messages
    from .legacy import processing_queue as processing_queue
    from .legacy import ready_surface as ready_surface
    from .legacy import task_worker_pools as task_worker_pools
    from .legacy import tcp as tcp
    from .legacy import worker as worker
    from .legacy import worker_pool as worker_pool
    from .legacy.worker import Worker as Worker
    from .legacy.worker_pool import WorkerPool as WorkerPool

__version__: str = getattr(_daisy, "__version__", "0.1.0")

# daisy 1.x's classes whose stand-ins live in daisy/legacy/, by the module that defines them:
# loaded on first use, never by `import daisy` or a run.
_LEGACY_CLASSES = {"Worker": "worker", "WorkerPool": "worker_pool"}


def __getattr__(name: str) -> Any:
    """``daisy.tcp``, ``daisy.Worker``, ...: imports a daisy 1.x stand-in on first use."""
    if name in _legacy_names.NAMES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LEGACY_CLASSES:
        module = importlib.import_module(f"{__name__}.{_LEGACY_CLASSES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _legacy_names.NAMES | set(_LEGACY_CLASSES))


__all__ = [
    "Roi",
    "Coordinate",
    "Block",
    "BlockStatus",
    "Task",
    "BlockwiseDependencyGraph",
    "DependencyGraph",
    "Scheduler",
    "Server",
    "SlurmLauncher",
    "SerialServer",
    "run_blockwise",
    "Client",
    "Context",
    "expand_roi_to_grid",
    "expand_write_roi_to_grid",
    "get_worker_log_basename",
    "redirect_stdouterr",
    "Array",
    "open_ds",
    "prepare_ds",
    "persistence",
    "__version__",
]
__all__ += list(_LEGACY_CLASSES)  # Worker, WorkerPool: loaded on first use (see __getattr__)
__all__ += errors.__all__
