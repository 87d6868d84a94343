"""A TCP client that exchanges :class:`~daisy.tcp.TCPMessage` objects with a server."""

from __future__ import annotations

import logging
import queue
import socket
import threading
from typing import Any

from .exceptions import NotConnected, StreamClosedError
from .handshake import HANDSHAKE_TIMEOUT, authenticate_server, client_token
from .internal_messages import AckClientDisconnect, NotifyClientDisconnect
from .io_looper import IOLooper
from .tcp_stream import TCPStream

logger = logging.getLogger(__name__)

_MESSAGE = 0
_ERROR = 1
_DISCONNECTED = 2

DISCONNECT_TIMEOUT = 10.0
"""Seconds :meth:`TCPClient.disconnect` waits for the server to acknowledge."""


class TCPClient(IOLooper):
    """A connection to a :class:`~daisy.tcp.TCPServer`, opened on construction.

    ::

        client = TCPClient(host, port)        # blocks until connected; errors raise
        client.send_message(TCPMessage("hello"))
        reply = client.get_message(timeout=5)  # None if nothing arrived in 5 s
        client.disconnect()                    # graceful: the server gets no message

    Before anything is sent or read, client and server prove to each other that they know
    the server's token (:mod:`daisy.tcp.handshake`): the messages are pickles, and this
    client unpickles only what an authenticated server sends.

    Args:
        host, port: the server's address (e.g. ``TCPServer.address``).
        token: the server's token (``TCPServer.token``); by default ``$DAISY_TCP_TOKEN``,
            which a :class:`~daisy.tcp.TCPServer` sets in its process (so processes it
            starts afterwards inherit it).

    Raises:
        AuthenticationError: there is no token, or the handshake failed (an
            ``OSError``).
        OSError: the connection could not be made (e.g. ``ConnectionRefusedError``).
    """

    def __init__(self, host: str, port: int | str, token: str | None = None) -> None:
        self.host = host
        self.port = int(port)
        self.token = client_token(token, host, self.port)
        self.stream: TCPStream | None = None
        self._events: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._ack = threading.Event()
        self._disconnected = True
        self._error_raised = False
        self.connect()

    def connect(self) -> None:
        """Connects to the server (a no-op while connected)."""
        if self.connected():
            return
        sock = socket.create_connection((self.host, self.port))
        try:
            authenticate_server(sock, self.token, HANDSHAKE_TIMEOUT)
        except BaseException:
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = TCPStream(sock, (self.host, self.port))
        self._events = queue.Queue()
        self._ack = threading.Event()
        self._disconnected = False
        self._error_raised = False
        self._start_io_thread(
            self._read_loop,
            f"daisy-tcp-client-{self.host}:{self.port}",
            self.stream,
            self._events,
            self._ack,
        )

    def connected(self) -> bool:
        """Whether the connection is open (not disconnected, not closed by the server)."""
        return self.stream is not None and not self._disconnected and not self.stream.closed()

    def disconnect(self) -> None:
        """Closes the connection gracefully: the server is told, and reports nothing.

        Afterwards :meth:`send_message` and :meth:`get_message` raise
        :class:`~daisy.tcp.NotConnected`. A no-op if already disconnected.
        """
        if self._disconnected or self.stream is None:
            return
        self._disconnected = True
        stream = self.stream
        if not stream.closed():
            try:
                stream.send_message(NotifyClientDisconnect())
                self._ack.wait(DISCONNECT_TIMEOUT)
            except StreamClosedError:
                pass
        stream.close()
        self._events.put((_DISCONNECTED, None))

    def send_message(self, message: Any) -> None:
        """Sends ``message`` to the server.

        Raises:
            NotConnected: after :meth:`disconnect`.
            StreamClosedError: the server closed the connection.
        """
        if self._disconnected or self.stream is None:
            raise NotConnected(
                f"cannot send {type(message).__name__}: the client was disconnected from "
                f"{self.host}:{self.port}"
            )
        self.stream.send_message(message)

    def get_message(self, timeout: float | None = None) -> Any:
        """Returns the next message from the server, or None after ``timeout`` seconds.

        Args:
            timeout: seconds to wait; ``None`` waits forever, ``0`` only polls.

        Raises:
            NotConnected: after :meth:`disconnect`, or once the closed connection's error
                was raised.
            StreamClosedError: the server closed the connection (raised once, after the
                messages that arrived before).
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"get_message(): timeout must be None or >= 0, got {timeout!r}")
        if self._disconnected or self.stream is None:
            raise NotConnected(f"the client was disconnected from {self.host}:{self.port}")
        events = self._events
        try:
            kind, item = events.get_nowait()
        except queue.Empty:
            if self._error_raised and self.stream.closed():
                raise NotConnected(f"the connection to {self.host}:{self.port} is closed") from None
            if timeout == 0:
                return None
            try:
                kind, item = events.get(block=True, timeout=timeout)
            except queue.Empty:
                return None
        if kind == _MESSAGE:
            return item
        if kind == _ERROR:
            self._error_raised = True
            raise item
        raise NotConnected(f"the client was disconnected from {self.host}:{self.port}")

    # internal -------------------------------------------------------------------------

    def _read_loop(
        self, stream: TCPStream, events: queue.Queue[tuple[int, Any]], ack: threading.Event
    ) -> None:
        def on_message(message: Any) -> bool:
            if isinstance(message, AckClientDisconnect):
                ack.set()
                return True
            try:
                message.stream = stream
            except AttributeError:
                pass
            events.put((_MESSAGE, message))
            return True

        error = stream._read_loop(on_message)
        if self._disconnected and stream is self.stream:
            return
        if error is None:
            error = StreamClosedError(f"the connection to {stream} was closed")
            error.stream = stream
        logger.debug("TCPClient: %s", error)
        events.put((_ERROR, error))


__all__ = ["TCPClient"]
