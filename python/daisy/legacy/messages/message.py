"""The base classes of daisy's worker/server messages."""

from __future__ import annotations

from typing import Any

from ..tcp.tcp_message import TCPMessage
from .remote_exception import transportable_exception


class Message(TCPMessage):
    """Base class of every message between daisy workers and the server."""

    def __init__(self) -> None:
        super().__init__()


class ExceptionMessage(Message):
    """A message carrying an exception.

    When sent, an exception that cannot be pickled (or not unpickled) is replaced by a
    :class:`~daisy.messages.RemoteException` whose ``repr()`` equals the original's.

    Attributes:
        exception: the exception.
    """

    def __init__(self, exception: BaseException) -> None:
        super().__init__()
        self.exception = exception

    def __getstate__(self) -> dict[str, Any] | None:
        state = super().__getstate__()
        if state and "exception" in state:
            state["exception"] = transportable_exception(state["exception"])
        return state


__all__ = ["Message", "ExceptionMessage"]
