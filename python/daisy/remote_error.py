"""Exceptions raised in a worker, as the server sees them (docs/semantics.md#the-distributed-run).

A worker reports a failed block by the ``repr()`` of its exception; the server hands its
observers a :class:`RemoteException` that stands in for it. daisy 1.x's
``daisy.messages.remote_exception.RemoteException`` is this class.
"""

from __future__ import annotations

import traceback

__all__ = ["RemoteException"]


class RemoteException(Exception):
    """Stands in for an exception that could not be sent to another process as itself.

    ``repr()`` and ``str()`` equal those of the original exception.

    Attributes:
        type_name: the qualified class name of the original exception
            (e.g. ``"mymodule.MyError"``).
        original_repr: ``repr()`` of the original.
        original_str: ``str()`` of the original.
        traceback_text: the formatted traceback of the original, if it had one, else ``""``.
    """

    def __init__(
        self,
        type_name: str,
        original_repr: str,
        original_str: str = "",
        traceback_text: str = "",
    ) -> None:
        super().__init__(type_name, original_repr, original_str, traceback_text)
        self.type_name = type_name
        self.original_repr = original_repr
        self.original_str = original_str
        self.traceback_text = traceback_text

    @classmethod
    def from_exception(cls, exception: BaseException) -> RemoteException:
        """Builds the stand-in of ``exception``."""
        exc_type = type(exception)
        module = getattr(exc_type, "__module__", None)
        name = exc_type.__qualname__
        if module and module != "builtins":
            name = f"{module}.{name}"
        try:
            original_repr = repr(exception)
        except Exception as e:  # a broken __repr__ must not hide the failure itself
            original_repr = f"<{name} (repr failed: {e!r})>"
        try:
            original_str = str(exception)
        except Exception:
            original_str = original_repr
        text = ""
        if getattr(exception, "__traceback__", None) is not None:
            text = "".join(traceback.format_exception(exc_type, exception, exception.__traceback__))
        return cls(name, original_repr, original_str, text)

    @classmethod
    def from_repr(cls, text: str) -> RemoteException:
        """The stand-in of an exception known only by its ``repr()``, as workers report
        failed blocks: its type name is what comes before the first ``(``."""
        text = str(text)
        type_name = text.split("(", 1)[0]
        if not type_name.replace(".", "").replace("_", "").isalnum():
            type_name = "Exception"
        return cls(type_name, text, text)

    def __repr__(self) -> str:
        return self.original_repr

    def __str__(self) -> str:
        return self.original_str
