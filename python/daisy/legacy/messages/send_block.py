"""The :class:`SendBlock` message."""

from __future__ import annotations

from typing import Any

from .message import Message


class SendBlock(Message):
    """Server → worker: the block to process."""

    def __init__(self, block: Any) -> None:
        super().__init__()
        self.block = block


__all__ = ["SendBlock"]
