"""The queue of blocks of one task (docs/semantics.md#scheduling).

A pure-Python implementation of daisy 1.x's ``ProcessingQueue``. The
:class:`daisy.Scheduler` does not use it: the engine keeps its own queues.
"""

from __future__ import annotations

import collections
from collections.abc import Hashable, Iterator
from typing import Any

__all__ = ["ProcessingQueue"]


class ProcessingQueue:
    """Ready blocks of one task, roots first.

    Attributes:

        ready_queue (``collections.deque``): blocks that became ready, in FIFO order.
        processing_blocks (``set``): IDs of the blocks handed out.
        block_retries (``collections.defaultdict(int)``): block ID -> retries so far.
        ready_roots (``int``): root blocks not yet taken from ``root_generator``.
        root_generator (iterator): yields the root blocks (level 0, row-major).

    Args:

        num_roots (``int``): how many blocks ``root_generator`` yields.
        root_generator (iterator): the root blocks.
    """

    def __init__(self, num_roots: int, root_generator: Iterator[Any]) -> None:
        self.ready_queue: collections.deque[Any] = collections.deque()
        self.processing_blocks: set[Hashable] = set()
        self.block_retries: collections.defaultdict[Hashable, int] = collections.defaultdict(int)
        self.ready_roots = num_roots
        self.root_generator = root_generator

    @property
    def num_ready(self) -> int:
        """Blocks that can be handed out: remaining roots plus queued blocks."""
        return self.ready_roots + len(self.ready_queue)

    def get_next(self) -> Any:
        """The next block to hand out (roots first, then the queue), or None."""
        if self.ready_roots > 0:
            self.ready_roots -= 1
            return next(self.root_generator)
        if self.ready_queue:
            return self.ready_queue.popleft()
        return None
