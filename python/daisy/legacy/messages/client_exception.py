"""The :class:`ClientException` message."""

from __future__ import annotations

from typing import Any

from .message import ExceptionMessage


class ClientException(ExceptionMessage):
    """Worker → server: the worker failed outside of a block; the server aborts the run.

    Attributes:
        exception: the exception (or its :class:`~daisy.messages.RemoteException`).
        context: the worker's :class:`~daisy.Context`.
    """

    def __init__(self, exception: BaseException, context: Any) -> None:
        super().__init__(exception)
        self.context = context


__all__ = ["ClientException"]
