"""The base class of everything sent through :mod:`daisy.tcp`."""

from __future__ import annotations

from typing import Any


class TCPMessage:
    """A message to send with :class:`~daisy.tcp.TCPClient` or :class:`~daisy.tcp.TCPStream`.

    Any picklable subclass, with any picklable fields, can be sent::

        client.send_message(TCPMessage("hello"))
        message = server.get_message()
        message.payload             # 'hello'
        message.stream.send_message(TCPMessage("hi back"))   # reply on that connection

    Attributes:
        payload: whatever was given (``None`` by default).
        stream: ``None`` until the message is received; then the
            :class:`~daisy.tcp.TCPStream` it arrived on. It is never sent.
    """

    payload: Any = None
    stream: Any = None

    def __init__(self, payload: Any = None) -> None:
        self.payload = payload
        self.stream = None

    def __getstate__(self) -> dict[str, Any] | None:
        state = getattr(self, "__dict__", None)
        if state is None:
            return None
        state = dict(state)
        state.pop("stream", None)
        return state

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        if state:
            self.__dict__.update(state)

    def __repr__(self) -> str:
        fields = {k: v for k, v in vars(self).items() if k != "stream"}
        arguments = ", ".join(f"{name}={value!r}" for name, value in fields.items())
        return f"{type(self).__name__}({arguments})"


__all__ = ["TCPMessage"]
