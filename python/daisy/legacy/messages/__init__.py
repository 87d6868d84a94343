"""The messages daisy workers and the server exchange (daisy 1.x's ``daisy.messages``).

All are :class:`~daisy.tcp.TCPMessage` subclasses, sent with :mod:`daisy.tcp`:

- ``AcquireBlock(task_id)``, worker → server: asks for a block of a task;
- ``SendBlock(block)``, server → worker: the block to process;
- ``ReleaseBlock(block)``, worker → server: the block is done (status SUCCESS or FAILED);
- ``RequestShutdown()``, server → worker: no more blocks, exit;
- ``ClientException(exception, context)``, worker → server: the worker failed;
- ``BlockFailed(exception, block, context)``, worker → server: a block failed.

``UnexpectedMessage(message)`` is the exception raised on protocol violations. An
exception that cannot be pickled travels as a :class:`RemoteException` with the same
``repr()``.
"""

from .acquire_block import AcquireBlock
from .block_failed import BlockFailed
from .client_exception import ClientException
from .message import ExceptionMessage, Message
from .release_block import ReleaseBlock
from .remote_exception import RemoteException, transportable_exception
from .request_shutdown import RequestShutdown
from .send_block import SendBlock
from .unexpected_message import UnexpectedMessage

__all__ = [
    "Message",
    "ExceptionMessage",
    "AcquireBlock",
    "SendBlock",
    "ReleaseBlock",
    "RequestShutdown",
    "ClientException",
    "BlockFailed",
    "UnexpectedMessage",
    "RemoteException",
    "transportable_exception",
]
