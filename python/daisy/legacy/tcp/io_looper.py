"""The I/O threads of :mod:`daisy.tcp`.

daisy 1.x ran one tornado I/O loop thread per process; this package runs a reader thread
per connection (and an accept thread per server), registered here per process id.
:meth:`IOLooper.clear` forgets the registry, e.g. in a process created with ``fork``,
which inherits the registry but none of the threads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any


class IOLooper:
    """Base class of :class:`~daisy.tcp.TCPServer` and :class:`~daisy.tcp.TCPClient`."""

    threads: dict[int, list[threading.Thread]] = {}
    """Process id → the I/O threads started in that process (alive or finished)."""

    _lock = threading.Lock()

    @staticmethod
    def clear() -> None:
        """Forgets all registered I/O threads (call it in a freshly forked process)."""
        # No locking: in a forked child the lock may have been copied while held.
        IOLooper._lock = threading.Lock()
        IOLooper.threads = {}

    def _start_io_thread(
        self, target: Callable[..., object], name: str, *args: Any
    ) -> threading.Thread:
        """Starts ``target(*args)`` on a daemon thread and registers it."""
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with IOLooper._lock:
            threads = IOLooper.threads.setdefault(os.getpid(), [])
            threads[:] = [t for t in threads if t.is_alive()]
            threads.append(thread)
        thread.start()
        return thread


__all__ = ["IOLooper"]
