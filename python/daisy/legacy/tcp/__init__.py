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
the payload ``07 | varint(len(pickle)) | pickle`` (see :mod:`daisy.tcp.frame`).

Messages are pickles, and unpickling runs code of the sender's choosing. So every
connection starts with a token handshake (:mod:`daisy.tcp.handshake`): server and client
prove to each other that they know the server's ``token`` before a frame is read. The
server exports its token as ``$DAISY_TCP_TOKEN``, so clients in processes it starts
afterwards find it; others get ``TCPClient(host, port, token=server.token)``. The
handshake authenticates but does not encrypt.
"""

from .exceptions import AuthenticationError, NoFreePort, NotConnected, StreamClosedError
from .handshake import TOKEN_ENV
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
    "AuthenticationError",
    "TOKEN_ENV",
    "NoFreePort",
]
