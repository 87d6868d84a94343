"""Which blocks are out, on which connection, since when (docs/semantics.md#lost-blocks-and-timeouts).

A server records every block it sends (:meth:`BlockBookkeeper.notify_block_sent`), checks
every return against the record (:meth:`~BlockBookkeeper.is_valid_return`), and
periodically collects the blocks that are lost: their connection closed, or they were out
longer than the processing timeout (:meth:`~BlockBookkeeper.get_lost_blocks`).
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Hashable
from typing import Any

logger = logging.getLogger(__name__)


class BlockLog:
    """The record of one block that is out.

    Attributes:
        block: the block as sent.
        stream: the connection it was sent on.
        time_sent: wall-clock seconds since the epoch when it was sent.
        monotonic_sent: :func:`time.monotonic` when it was sent (timeouts are measured on it).
    """

    def __init__(self, block: Any, stream: Any) -> None:
        self.block = block
        self.stream = stream
        self.time_sent = time.time()
        self.monotonic_sent = time.monotonic()


def _stream_closed(stream: Any) -> bool:
    closed = getattr(stream, "closed", None)
    if closed is None:
        return False
    if callable(closed):
        return bool(closed())
    return bool(closed)


def _seconds(name: str, value: float | datetime.timedelta | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"BlockBookkeeper(): {name} must be a number of seconds, a datetime.timedelta "
            f"or None, got {value!r} of type {type(value).__name__}"
        )
    if value <= 0:
        raise ValueError(f"BlockBookkeeper(): {name} must be positive, got {value!r}")
    return float(value)


class BlockBookkeeper:
    """Keeps track of the blocks handed out to workers.

    Args:
        processing_timeout: seconds (or a ``datetime.timedelta``) a block may stay out
            before it counts as lost; None for no limit.

    Attributes:
        sent_blocks: ``{block_id: BlockLog}`` of the blocks that are out.
    """

    def __init__(self, processing_timeout: float | datetime.timedelta | None = None) -> None:
        self.processing_timeout = _seconds("processing_timeout", processing_timeout)
        self.sent_blocks: dict[Hashable, BlockLog] = {}

    def notify_block_sent(self, block: Any, stream: Any) -> None:
        """Records that ``block`` was sent on ``stream``.

        Raises:
            RuntimeError: the block is already out.
        """
        if block.block_id in self.sent_blocks:
            raise RuntimeError(
                f"Attempted to send block {block}, although it is already being processed "
                f"by {self.sent_blocks[block.block_id].stream}"
            )
        self.sent_blocks[block.block_id] = BlockLog(block, stream)

    def notify_block_returned(self, block: Any, stream: Any) -> None:
        """Records that ``block`` came back on ``stream`` and removes its record.

        Sets ``block.started_processing`` (the send time) and ``block.stopped_processing``
        (now), in seconds since the epoch.

        Raises:
            RuntimeError: the block is not out, or was sent on another connection (check
                with :meth:`is_valid_return` first). Nothing is changed then.
        """
        log = self.sent_blocks.get(block.block_id)
        if log is None:
            raise RuntimeError(
                f"Block {block} was returned by {stream}, but is not in the list of sent blocks"
            )
        if log.stream != stream:
            raise RuntimeError(
                f"Block {block} was returned by {stream}, but was sent to {log.stream}"
            )
        block.started_processing = log.time_sent
        block.stopped_processing = time.time()
        del self.sent_blocks[block.block_id]

    def is_valid_return(self, block: Any, stream: Any) -> bool:
        """Whether ``block`` is out on ``stream`` (else its return is stale or a duplicate)."""
        log = self.sent_blocks.get(block.block_id)
        return log is not None and log.stream == stream

    def get_lost_blocks(self) -> list[Any]:
        """Removes and returns the blocks that are lost.

        A block is lost if the connection it was sent on is closed, or if it has been out
        longer than ``processing_timeout``. Each lost block is returned once, even if both
        hold.
        """
        now = time.monotonic()
        lost_ids: list[Hashable] = []
        for block_id, log in self.sent_blocks.items():
            if _stream_closed(log.stream):
                lost_ids.append(block_id)
            elif (
                self.processing_timeout is not None
                and now - log.monotonic_sent > self.processing_timeout
            ):
                logger.debug("Block %s timed out on %s", log.block, log.stream)
                lost_ids.append(block_id)
        return [self.sent_blocks.pop(block_id).block for block_id in lost_ids]


__all__ = ["BlockBookkeeper", "BlockLog"]
