"""The :class:`BlockFailed` message."""

from __future__ import annotations

from typing import Any

from .client_exception import ClientException


class BlockFailed(ClientException):
    """Worker → server: processing ``block`` raised ``exception``.

    Attributes:
        exception: the exception (or its :class:`~daisy.messages.RemoteException`).
        block: the block that failed.
        context: the worker's :class:`~daisy.Context` (``context["worker_id"]`` says which worker).
    """

    def __init__(self, exception: BaseException, block: Any, context: Any) -> None:
        super().__init__(exception, context)
        self.block = block


__all__ = ["BlockFailed"]
