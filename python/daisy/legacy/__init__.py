"""daisy 1.x's pure-Python internals, kept so that scripts importing them keep working.

daisy 1.x ran its scheduler, its server and its workers in Python; this package runs them in
its Rust engine. The modules here re-implement the 1.x internals that scripts and tools
import directly -- the ready surface, the processing queue, the block bookkeeper, the worker
processes (``Worker``, ``WorkerPool``, ``TaskWorkerPools``), the TCP message passing
(``tcp``) and its messages (``messages``) -- with 1.x's behaviour. The engine never uses
them, and ``import daisy`` or a run does not import them.

They are imported under their daisy 1.x names, which load the files of this directory:

===============================  ================================
daisy 1.x name                   file
===============================  ================================
``daisy.ready_surface``          ``legacy/ready_surface.py``
``daisy.processing_queue``       ``legacy/processing_queue.py``
``daisy.block_bookkeeper``       ``legacy/block_bookkeeper.py``
``daisy.worker``                 ``legacy/worker.py``
``daisy.worker_pool``            ``legacy/worker_pool.py``
``daisy.task_worker_pools``      ``legacy/task_worker_pools.py``
``daisy.tcp``, ``daisy.tcp.*``   ``legacy/tcp/``
``daisy.messages``, ``...*``     ``legacy/messages/``
===============================  ================================

``daisy.Worker`` and ``daisy.WorkerPool`` are loaded on first use too. ``daisy.legacy.tcp``
and the like are the same modules under a second name. The names are mapped by
``daisy/_legacy_names.py``.

The modules here import the rest of daisy by absolute name (``from daisy.context import
Context``) and each other relatively (``from .worker import Worker``), which resolves to the
same file under either name.
"""
