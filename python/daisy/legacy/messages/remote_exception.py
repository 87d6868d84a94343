"""Sending exceptions to another process, even those that cannot be pickled."""

import pickle
import traceback


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

    def __init__(self, type_name, original_repr, original_str="", traceback_text=""):
        super().__init__(type_name, original_repr, original_str, traceback_text)
        self.type_name = type_name
        self.original_repr = original_repr
        self.original_str = original_str
        self.traceback_text = traceback_text

    @classmethod
    def from_exception(cls, exception):
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
            text = "".join(
                traceback.format_exception(exc_type, exception, exception.__traceback__)
            )
        return cls(name, original_repr, original_str, text)

    def __repr__(self):
        return self.original_repr

    def __str__(self):
        return self.original_str


def transportable_exception(exception):
    """Returns ``exception`` if it survives a pickle round trip, else its :class:`RemoteException`."""
    if isinstance(exception, RemoteException):
        return exception
    try:
        pickle.loads(pickle.dumps(exception, protocol=pickle.HIGHEST_PROTOCOL))
        return exception
    except Exception:
        return RemoteException.from_exception(exception)


__all__ = ["RemoteException", "transportable_exception"]
