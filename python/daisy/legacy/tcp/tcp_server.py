"""A TCP server that receives :class:`~daisy.tcp.TCPMessage` objects from many clients."""

from __future__ import annotations

import errno
import fcntl
import logging
import queue
import socket
import struct
import threading
import time
from typing import Any

from .exceptions import AuthenticationError, NoFreePort, StreamClosedError
from .handshake import HANDSHAKE_TIMEOUT, authenticate_client, server_token
from .internal_messages import AckClientDisconnect, NotifyClientDisconnect
from .io_looper import IOLooper
from .tcp_stream import TCPStream

logger = logging.getLogger(__name__)

_MESSAGE = 0
_ERROR = 1

_SIOCGIFADDR = 0x8915

MAX_PENDING_HANDSHAKES = 64
"""Connections that may be in the token handshake at once; more are closed at once."""


def _default_route_interface() -> str | None:
    """The name of the interface of the IPv4 default route, or None."""
    try:
        with open("/proc/net/route") as routes:
            next(routes, None)  # header
            for line in routes:
                fields = line.split()
                if len(fields) > 3 and fields[1] == "00000000" and int(fields[3], 16) & 0x2:
                    return fields[0]
    except OSError:
        pass
    return None


def _interface_ipv4(interface: str) -> str | None:
    """The IPv4 address of a network interface, or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            request = struct.pack("256s", interface.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(s.fileno(), _SIOCGIFADDR, request)[20:24])
    except OSError:
        return None


def _loopback_check(
    listener: socket.socket, address: tuple[str, int], timeout: float = 1.0
) -> bool:
    """Whether a connection to ``address`` reaches ``listener`` and carries data both ways."""
    probe = b"daisy-address-probe"
    listener.settimeout(timeout)
    try:
        with socket.create_connection(address, timeout=timeout) as outgoing:
            incoming, _ = listener.accept()
            with incoming:
                incoming.settimeout(timeout)
                return _passes(probe, outgoing, incoming) and _passes(probe, incoming, outgoing)
    except OSError:
        return False
    finally:
        listener.settimeout(None)


def _passes(data: bytes, sender: socket.socket, receiver: socket.socket) -> bool:
    """Sends ``data`` on one socket and checks it arrives whole on the other."""
    sender.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = receiver.recv(len(data) - len(received))
        if not chunk:
            return False
        received += chunk
    return received == data


def detect_host(listener: socket.socket) -> str:
    """The address other machines reach ``listener`` at (docs/semantics.md#the-distributed-run).

    The IPv4 address of the default-route interface, if a connection to it reaches the
    listener; else ``"127.0.0.1"``. No packet leaves the machine.
    """
    port = listener.getsockname()[1]
    interface = _default_route_interface()
    if interface is not None:
        address = _interface_ipv4(interface)
        if address is not None and _loopback_check(listener, (address, port)):
            return address
    return "127.0.0.1"


def _bind_addresses(host: str) -> list[tuple[int, tuple[Any, ...]]]:
    """``(family, sockaddr)`` to listen on for ``host`` (an address or a name of this machine).

    Raises:
        OSError: ``host`` cannot be resolved.
    """
    try:
        infos = socket.getaddrinfo(
            host, 0, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except socket.gaierror as e:
        raise OSError(
            e.errno, f"TCPServer(host={host!r}): cannot resolve the host to listen on: {e}"
        ) from e
    return [(family, sockaddr) for family, _, _, _, sockaddr in infos]


class TCPServer(IOLooper):
    """Receives messages from any number of :class:`~daisy.tcp.TCPClient` connections.

    Listens on a random free port: on ``host`` if given, else on all interfaces. Messages
    are pickled Python objects, so a connection is only read from once its peer has passed
    the token handshake (:mod:`daisy.tcp.handshake`): it proved it knows :attr:`token`::

        server = TCPServer()
        host, port = server.address          # give these to the clients
        # clients started from this process from now on find server.token in
        # $DAISY_TCP_TOKEN; give it to others (TCPClient(host, port, token=...))
        message = server.get_message(timeout=1)
        if message is not None:
            message.stream.send_message(TCPMessage("reply"))

    A peer that fails the handshake, or does not finish it within 10 seconds, is
    disconnected without a message or error at :meth:`get_message` (a warning is logged).

    Args:
        host: where to listen and the address clients should use. By default the server
            listens on all interfaces and clients are given the address of the
            default-route interface (checked by connecting to it), else ``127.0.0.1``.
            Given, the server listens on that address only (a name is resolved; it must
            be an address of this machine, else ``OSError``).
        max_port_tries: how often to try to find a free port before raising
            :class:`~daisy.tcp.NoFreePort`.
        token: the shared secret clients must know; by default ``$DAISY_TCP_TOKEN`` if
            set, else a new random one. The server sets ``$DAISY_TCP_TOKEN`` to it.

    Attributes:
        address: ``(host, port)`` clients connect to.
        token: the secret clients prove they know.
        client_streams: the open, authenticated connections (a set of
            :class:`~daisy.tcp.TCPStream`).
    """

    def __init__(
        self, host: str | None = None, max_port_tries: int = 1000, token: str | None = None
    ) -> None:
        self.client_streams: set[TCPStream] = set()
        self.token = server_token(token)
        self._streams_lock = threading.Lock()
        # The connections in the token handshake (closed by close() too).
        self._handshaking: set[socket.socket] = set()
        self._events: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._closing = False
        detect = host is None or host == ""
        self._listener = self._listen(max_port_tries, None if detect else host)
        port = self._listener.getsockname()[1]
        if host is None or host == "":
            host = detect_host(self._listener)
        self.address = (host, port)
        self._accept_thread = self._start_io_thread(self._accept_loop, f"daisy-tcp-server-{port}")

    @staticmethod
    def _listen(max_port_tries: int, host: str | None = None) -> socket.socket:
        addresses = [(socket.AF_INET, ("", 0))] if host is None else _bind_addresses(host)
        last_error: OSError | None = None
        for _ in range(max_port_tries):
            for family, sockaddr in addresses:
                listener = socket.socket(family, socket.SOCK_STREAM)
                try:
                    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    listener.bind(sockaddr)
                    listener.listen(128)
                    return listener
                except OSError as e:
                    listener.close()
                    if e.errno == errno.EADDRNOTAVAIL:
                        last_error = OSError(
                            e.errno,
                            f"TCPServer(host={host!r}): cannot listen on {sockaddr[0]}: "
                            f"it is not an address of this machine ({e.strerror})",
                        )
                        continue
                    if e.errno != errno.EADDRINUSE:
                        raise
                    last_error = e
            if last_error is not None and last_error.errno == errno.EADDRNOTAVAIL:
                raise last_error
        raise NoFreePort(
            f"could not find a free port after {max_port_tries} tries (max_port_tries="
            f"{max_port_tries})" + (f"; last error: {last_error}" if last_error else "")
        )

    def get_message(self, timeout: float | None = None) -> Any:
        """Returns the next message from any client.

        Args:
            timeout: seconds to wait; ``None`` waits forever, ``0`` only polls.

        Returns:
            The message, with ``message.stream`` set to the connection it came on, or
            ``None`` if none arrived within ``timeout``.

        Raises:
            StreamClosedError: a client vanished without disconnecting, or sent something
                that is not a valid frame (raised once per connection, in arrival order
                with the messages; ``error.stream`` is the connection).
        """
        if timeout is not None and timeout < 0:
            raise ValueError(f"get_message(): timeout must be None or >= 0, got {timeout!r}")
        try:
            if timeout == 0:
                kind, item = self._events.get(block=False)
            else:
                kind, item = self._events.get(block=True, timeout=timeout)
        except queue.Empty:
            return None
        if kind == _ERROR:
            raise item
        return item

    def disconnect(self) -> None:
        """Closes all client connections (the server keeps listening)."""
        with self._streams_lock:
            streams = list(self.client_streams)
        for stream in streams:
            stream.close()

    def close(self) -> None:
        """Stops listening and closes all client connections."""
        with self._streams_lock:
            self._closing = True
            handshaking = list(self._handshaking)
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for sock in handshaking:  # their threads close them
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.disconnect()

    # internal -------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._closing:
            try:
                sock, address = self._listener.accept()
            except OSError as e:
                if self._closing:
                    return
                logger.warning(
                    "TCPServer %s:%s failed to accept a connection: %s", *self.address, e
                )
                time.sleep(0.1)
                continue
            if self._closing:
                sock.close()
                return
            with self._streams_lock:
                full = len(self._handshaking) >= MAX_PENDING_HANDSHAKES
                if not full:
                    self._handshaking.add(sock)
            if full:
                logger.debug(
                    "TCPServer: closed a connection from %s: %d connections are in the "
                    "token handshake already",
                    address,
                    MAX_PENDING_HANDSHAKES,
                )
                sock.close()
                continue
            self._start_io_thread(
                self._authenticate, f"daisy-tcp-handshake-{address[0]}:{address[1]}", sock, address
            )

    def _authenticate(self, sock: socket.socket, address: Any) -> None:
        """Serves a new connection once its peer passed the token handshake."""
        try:
            authenticate_client(sock, self.token, HANDSHAKE_TIMEOUT)
        except AuthenticationError as e:
            if not self._closing:
                logger.warning(
                    "TCPServer %s:%s: refused a connection from %s:%s: %s",
                    *self.address,
                    *address[:2],
                    e,
                )
            sock.close()
            return
        finally:
            with self._streams_lock:
                self._handshaking.discard(sock)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        stream = TCPStream(sock, address)
        with self._streams_lock:
            closing = self._closing
            if not closing:
                self.client_streams.add(stream)
        if closing:
            stream.close()
            return
        logger.debug("TCPServer: client %s connected", stream)
        self._serve(stream)

    def _serve(self, stream: TCPStream) -> None:
        def on_message(message: Any) -> bool:
            if isinstance(message, NotifyClientDisconnect):
                logger.debug("TCPServer: client %s disconnects", stream)
                try:
                    stream.send_message(AckClientDisconnect())
                except StreamClosedError:
                    pass
                stream.close()
                return False
            try:
                message.stream = stream
            except AttributeError:
                pass
            self._events.put((_MESSAGE, message))
            return True

        error = stream._read_loop(on_message)
        with self._streams_lock:
            self.client_streams.discard(stream)
        if error is not None and not self._closing:
            logger.debug("TCPServer: %s", error)
            self._events.put((_ERROR, error))


__all__ = ["TCPServer", "detect_host"]
