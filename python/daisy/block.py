"""Blocks and their status (docs/semantics.md#blocks-and-block-ids).

``BlockStatus`` is defined here, in Python: the engine's ``Block`` reads and writes its
``status`` as members of this enumeration (looked up in this module on first use).
"""

import enum

from . import _daisy


class BlockStatus(enum.Enum):
    """The processing status of a block.

    A plain :class:`enum.Enum`, as in daisy 1.x: ``BlockStatus(2) is BlockStatus.SUCCESS``,
    ``BlockStatus.SUCCESS.value == 2``, but ``BlockStatus.SUCCESS == 2`` is False.
    """

    CREATED = 0
    PROCESSING = 1
    SUCCESS = 2
    FAILED = 3


Block = _daisy.Block
"""One placement of a task's read/write templates (the engine's class).

``Block(total_roi, read_roi, write_roi, block_id=None, task_id=None)``; attributes
``read_roi``, ``write_roi``, ``requested_write_roi``, ``task_id``, ``block_id`` (the tuple
``(task_id, spatial_id)``), ``status``, ``started_processing``, ``stopped_processing``.
Equality and hash use ``block_id`` only.
"""

__all__ = ["Block", "BlockStatus"]
