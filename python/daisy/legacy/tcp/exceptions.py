"""Exceptions of :mod:`daisy.tcp`."""

from __future__ import annotations

from typing import Any


class StreamClosedError(Exception):
    """The connection was closed: by the peer, or because it sent something undecodable.

    Attributes:
        stream: the :class:`~daisy.tcp.TCPStream` of the connection, where known, else None.
    """

    stream: Any = None


class NotConnected(Exception):
    """The :class:`~daisy.tcp.TCPClient` was disconnected (by :meth:`~daisy.tcp.TCPClient.disconnect`)."""


class AuthenticationError(ConnectionError):
    """A peer did not pass the token handshake (:mod:`daisy.tcp.handshake`), or a
    :class:`~daisy.tcp.TCPClient` has no token to offer. Nothing was unpickled.

    A ``ConnectionError`` (an ``OSError``), like a refused connection.
    """


class NoFreePort(Exception):
    """A :class:`~daisy.tcp.TCPServer` could not find a free port to listen on."""


__all__ = ["StreamClosedError", "NotConnected", "AuthenticationError", "NoFreePort"]
