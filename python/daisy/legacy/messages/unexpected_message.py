"""The :class:`UnexpectedMessage` exception."""

from __future__ import annotations

from typing import Any


class UnexpectedMessage(Exception):
    """Raised when a peer sends a message that makes no sense at this point.

    Attributes:
        message: the offending message.
    """

    def __init__(self, message: Any) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"unexpected message: {self.message!r}"


__all__ = ["UnexpectedMessage"]
