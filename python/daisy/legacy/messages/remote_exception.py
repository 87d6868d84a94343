"""Sending exceptions to another process, even those that cannot be pickled.

:class:`RemoteException` is the live :class:`daisy.remote_error.RemoteException` (the server
hands it to observers); this module adds :func:`transportable_exception`, which daisy 1.x's
messages use.
"""

from __future__ import annotations

import pickle

from daisy.remote_error import RemoteException

__all__ = ["RemoteException", "transportable_exception"]


def transportable_exception(exception: BaseException) -> BaseException:
    """Returns ``exception`` if it survives a pickle round trip, else its :class:`RemoteException`."""
    if isinstance(exception, RemoteException):
        return exception
    try:
        pickle.loads(pickle.dumps(exception, protocol=pickle.HIGHEST_PROTOCOL))
        return exception
    except Exception:
        return RemoteException.from_exception(exception)
