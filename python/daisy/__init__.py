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

# `block` first: it defines BlockStatus, which the engine looks up when it is imported.
from . import block
from .block import Block, BlockStatus
from . import _daisy

from . import coordinate, roi
from .coordinate import Coordinate
from .roi import Roi

from . import freezable
from . import logging
from .logging import get_worker_log_basename, redirect_stdouterr

from . import blocks
from .blocks import expand_roi_to_grid, expand_write_roi_to_grid

from . import context
from .context import Context

from . import tcp
from . import messages

from . import task
from .task import Task
from . import task_state
from . import ready_surface
from . import processing_queue
from . import dependency_graph
from .dependency_graph import BlockwiseDependencyGraph, DependencyGraph
from . import scheduler
from .scheduler import Scheduler

from . import client
from .client import Client

from . import worker, worker_pool
from .worker import Worker
from .worker_pool import WorkerPool

from . import block_bookkeeper
from . import server_observer
from . import task_worker_pools
from . import cl_monitor
from . import server, serial_server
from .server import Server
from .serial_server import SerialServer
from . import convenience
from .convenience import run_blockwise

__version__ = getattr(_daisy, "__version__", "0.1.0")

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
    "SerialServer",
    "run_blockwise",
    "Client",
    "Context",
    "Worker",
    "WorkerPool",
    "expand_roi_to_grid",
    "expand_write_roi_to_grid",
    "get_worker_log_basename",
    "redirect_stdouterr",
    "__version__",
]
