"""The :class:`AcquireBlock` message."""

from __future__ import annotations

from .message import Message


class AcquireBlock(Message):
    """Worker → server: "give me a block of task ``task_id``".

    The server answers with :class:`~daisy.messages.SendBlock` or
    :class:`~daisy.messages.RequestShutdown`.
    """

    def __init__(self, task_id: str | None) -> None:
        super().__init__()
        self.task_id = task_id


__all__ = ["AcquireBlock"]
