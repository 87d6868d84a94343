"""One TCP connection carrying :class:`~daisy.tcp.TCPMessage` frames."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .exceptions import StreamClosedError
from .frame import (
    HEADER_SIZE,
    MAX_FRAME,
    FrameError,
    check_frame_length,
    decode_payload,
    encode_frame,
)

logger = logging.getLogger(__name__)


class TCPStream:
    """A connection to a peer, as seen from one side.

    Messages received by a :class:`~daisy.tcp.TCPServer` carry the stream they arrived on
    in ``message.stream``; ``message.stream.send_message(reply)`` answers on that
    connection.

    Attributes:
        address: ``(host, port)`` of the peer.
    """

    def __init__(
        self, sock: socket.socket, address: Sequence[Any], max_frame: int = MAX_FRAME
    ) -> None:
        self.socket = sock
        self.address = tuple(address[:2])
        self.max_frame = max_frame
        self._reader = sock.makefile("rb")
        self._send_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._closed = False
        self._closed_locally = False
        self._released = False
        self._reading = False

    def send_message(self, message: Any) -> None:
        """Sends ``message`` to the peer.

        Raises:
            StreamClosedError: the connection is closed (or breaks while sending).
            ValueError: the message is larger than the 64 MiB frame limit.
            pickle.PicklingError, TypeError, AttributeError: the message cannot be pickled.
        """
        if self._closed:
            raise self._closed_error(message)
        frame = encode_frame(message, self.max_frame)
        with self._send_lock:
            if self._closed:
                raise self._closed_error(message)
            try:
                self.socket.sendall(frame)
            except OSError as e:
                self._mark_closed()
                raise self._closed_error(message, e) from e

    def close(self) -> None:
        """Closes the connection (no error is reported for it anywhere)."""
        with self._state_lock:
            self._closed_locally = True
            self._closed = True
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        # If nobody reads this stream any more, release the socket here; otherwise the
        # reader thread does it when it wakes up from the shutdown.
        if not self._reading:
            self._release()

    def closed(self) -> bool:
        """Whether the connection is closed."""
        return self._closed

    def __repr__(self) -> str:
        host, port = self.address
        return f"{host}:{port}"

    # internal -------------------------------------------------------------------------

    def _closed_error(self, message: Any, cause: BaseException | None = None) -> StreamClosedError:
        error = StreamClosedError(
            f"cannot send {type(message).__name__} to {self}: the connection is closed"
            + ("" if cause is None else f" ({cause})")
        )
        error.stream = self
        return error

    def _mark_closed(self) -> None:
        with self._state_lock:
            self._closed = True

    def _read_exactly(self, n: int) -> bytes:
        data = self._reader.read(n)
        if data is None:  # only for non-blocking sockets
            raise FrameError("no data")
        return data

    def _read_message(self) -> Any:
        """Blocks for the next message; None at a clean end of stream.

        Raises:
            FrameError: the peer sent an invalid frame, or closed inside one.
            OSError: the connection broke.
        """
        header = self._read_exactly(HEADER_SIZE)
        if not header:
            return None
        if len(header) < HEADER_SIZE:
            raise FrameError("connection closed inside a frame header")
        length = check_frame_length(header, self.max_frame)
        payload = self._read_exactly(length)
        if len(payload) < length:
            raise FrameError(
                f"connection closed inside a frame ({len(payload)} of {length} bytes received)"
            )
        return decode_payload(payload)

    def _read_loop(self, on_message: Callable[[Any], bool]) -> StreamClosedError | None:
        """Reads messages and passes each to ``on_message`` until the connection ends.

        ``on_message(message)`` returns False to stop reading. Returns None if the stream
        was closed on this side (:meth:`close`), else the :class:`StreamClosedError` saying
        why it ended. The socket is released before returning.
        """
        self._reading = True
        error: StreamClosedError | None = None
        try:
            while True:
                try:
                    message = self._read_message()
                except FrameError as e:
                    error = StreamClosedError(
                        f"{self} sent an invalid frame ({e}); the connection was closed"
                    )
                    break
                except (OSError, ValueError) as e:
                    # ValueError: the reader was closed under us by close().
                    error = StreamClosedError(f"the connection to {self} broke: {e!r}")
                    break
                if message is None:
                    error = StreamClosedError(f"{self} closed the connection")
                    break
                if on_message(message) is False:
                    break
        finally:
            self._reading = False
            self._release()
        if self._closed_locally or error is None:
            return None
        error.stream = self
        return error

    def _release(self) -> None:
        """Closes the socket; called once nobody reads from it any more."""
        with self._state_lock:
            self._closed = True
            if self._released:
                return
            self._released = True
        with self._send_lock:
            try:
                self._reader.close()
            except OSError:
                pass
            try:
                self.socket.close()
            except OSError:
                pass


__all__ = ["TCPStream"]
