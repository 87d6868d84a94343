"""The :class:`RequestShutdown` message."""

from .message import Message


class RequestShutdown(Message):
    """Server → worker: there are no more blocks for this worker; it should exit."""


__all__ = ["RequestShutdown"]
