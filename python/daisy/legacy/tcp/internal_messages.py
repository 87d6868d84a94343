"""Messages the TCP layer exchanges for itself; never handed to users."""

from .tcp_message import TCPMessage


class NotifyClientDisconnect(TCPMessage):
    """Client → server: "I am leaving"; the server answers with :class:`AckClientDisconnect`."""


class AckClientDisconnect(TCPMessage):
    """Server → client: the disconnect was noted; the server closes the connection."""


__all__ = ["NotifyClientDisconnect", "AckClientDisconnect"]
