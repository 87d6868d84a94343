"""Exceptions of :mod:`daisy.tcp`."""


class StreamClosedError(Exception):
    """The connection was closed: by the peer, or because it sent something undecodable."""


class NotConnected(Exception):
    """The :class:`~daisy.tcp.TCPClient` was disconnected (by :meth:`~daisy.tcp.TCPClient.disconnect`)."""


class NoFreePort(Exception):
    """A :class:`~daisy.tcp.TCPServer` could not find a free port to listen on."""


__all__ = ["StreamClosedError", "NotConnected", "NoFreePort"]
