"""Message passing over TCP between Python processes (daisy 1.x's ``daisy.tcp``).

:class:`TCPServer` receives :class:`TCPMessage` objects from any number of
:class:`TCPClient` connections and answers on the connection a message came on::

    from daisy.tcp import TCPClient, TCPMessage, TCPServer

    server = TCPServer()
    client = TCPClient(*server.address)
    client.send_message(TCPMessage("ping"))
    message = server.get_message(timeout=5)
    message.stream.send_message(TCPMessage("pong"))
    client.get_message(timeout=5).payload    # 'pong'
    client.disconnect()

Each message travels as one frame: a 4-byte big-endian length (at most 64 MiB) followed by
the payload ``07 | varint(len(pickle)) | pickle`` (see :mod:`daisy.tcp.frame`). Messages
are pickles: only connect trusted peers.
"""

from .exceptions import NoFreePort, NotConnected, StreamClosedError
from .io_looper import IOLooper
from .tcp_client import TCPClient
from .tcp_message import TCPMessage
from .tcp_server import TCPServer
from .tcp_stream import TCPStream

__all__ = [
    "TCPServer",
    "TCPClient",
    "TCPMessage",
    "TCPStream",
    "IOLooper",
    "StreamClosedError",
    "NotConnected",
    "NoFreePort",
]
