"""The :class:`ReleaseBlock` message."""

from __future__ import annotations

from typing import Any

from .message import Message


class ReleaseBlock(Message):
    """Worker → server: the block is done; its ``status`` is SUCCESS or FAILED."""

    def __init__(self, block: Any) -> None:
        super().__init__()
        self.block = block


__all__ = ["ReleaseBlock"]
