"""The worker side: ask the server for blocks and return them (docs/semantics.md#workers-and-daisy_context)."""

import contextlib
import logging
import os
from collections.abc import Iterator

from . import _daisy
from .block import Block, BlockStatus
from .context import Context
from .errors import MissingContextError
from .logging import set_log_basedir

logger = logging.getLogger(__name__)

__all__ = ["Client"]


class Client:
    """Client code that runs on a worker, providing the block API for user code.

    It talks to the daisy server over TCP. The server's address and the worker's
    identity are passed in a :class:`daisy.Context`, by default read from the environment
    variable ``DAISY_CONTEXT`` that every worker started by daisy has (a program started
    by a spawn function inherits it, and so does a job submitted to a cluster if the
    environment is passed on).

    Example::

        client = daisy.Client()
        while True:
            with client.acquire_block() as block:
                if block is None:
                    break
                process(block)  # an exception marks the block as failed

    Attributes: ``context``, ``host``, ``port``, ``worker_id``, ``task_id`` and
    ``tcp_client`` (the connection).

    A context made by daisy's server carries the run's secret ``token`` and is served by
    the engine's protocol. A context without a token (e.g. for a server built with
    :class:`daisy.tcp.TCPServer`) is served with :mod:`daisy.messages` over
    :class:`daisy.tcp.TCPClient`, as daisy 1.x did.

    Args:

        context (:class:`daisy.Context`, optional):
            Where to connect to; ``Context.from_env()`` if not given.

    Raises:
        daisy.MissingContextError: no ``context`` was given and ``DAISY_CONTEXT`` is not
            set, i.e. outside a worker (a ``KeyError`` and a :class:`daisy.ContextError`).
        daisy.ClientError: the server cannot be reached, refuses the worker, or does not
            answer the handshake in time.

    A worker never waits forever on its server: connecting, the handshake and every
    write have deadlines, and the wait for a block is watched by TCP keepalive, so a
    worker whose server is gone gets a :class:`daisy.ClientError` (or, mid-run, no more
    blocks) within seconds, with a line in its log naming the server.
    """

    def __init__(self, context: Context | None = None) -> None:
        if context is None:
            if Context.ENV_VARIABLE not in os.environ:
                raise MissingContextError(_MISSING_CONTEXT)
            context = Context.from_env()
        self.context = context
        logdir = context.get("logdir")
        set_log_basedir(None if logdir is None or str(logdir) == "None" else logdir)
        self.host = context["hostname"]
        self.port = int(context["port"])
        worker_id = context.get("worker_id")
        self.worker_id = int(worker_id) if worker_id is not None else None
        self.task_id = context["task_id"]
        self._connection: _MessagesConnection | _daisy.Client
        if context.get("token") is None:
            self._connection = _MessagesConnection(self)
            self.tcp_client = self._connection.tcp_client
        else:
            prefetch = context.get("prefetch")
            prefetch = int(prefetch) if prefetch is not None else None
            self.tcp_client = self._connection = _daisy.Client(context.to_env(), prefetch)

    @contextlib.contextmanager
    def acquire_block(self) -> Iterator[Block | None]:
        """A context manager that yields the next block to process, or None when there is
        no more work.

        While the body runs the block's status is PROCESSING. If the body finishes, the
        block is returned as SUCCESS (unless the body set the status to FAILED); if it
        raises an Exception, the block is reported as failed with the exception, the
        traceback is logged, and the exception is swallowed, so a block loop goes on with
        the next block. ``KeyboardInterrupt`` and ``SystemExit`` return the block as
        FAILED and propagate.
        """
        connection = self._connection
        block = connection.acquire()
        if block is None:
            yield None
            return
        try:
            block.status = BlockStatus.PROCESSING
            yield block
            if block.status == BlockStatus.PROCESSING:
                block.status = BlockStatus.SUCCESS
        except Exception as e:
            block.status = BlockStatus.FAILED
            try:
                if isinstance(connection, _daisy.Client):
                    connection.fail(block, repr(e))
                else:
                    connection.fail(block, e)
            finally:
                logger.exception("Block %s failed in worker %s", block, self.worker_id)
        finally:
            if block.status != BlockStatus.SUCCESS:
                block.status = BlockStatus.FAILED
            connection.release(block)

    def release_block(self, block: Block) -> None:
        """Returns a block to the server: as SUCCESS if its status says so, else FAILED."""
        self._connection.release(block)


_MISSING_CONTEXT = (
    "daisy.Client() needs the DAISY_CONTEXT environment variable, which is not set: "
    "workers started by the daisy server (its spawn functions and the programs they start) "
    "get it in their environment. Outside such a worker, pass the context explicitly: "
    "daisy.Client(daisy.Context(hostname=..., port=..., task_id=..., worker_id=..., "
    "token=...)), or set DAISY_CONTEXT to a worker's context text first"
)


class _MessagesConnection:
    """daisy 1.x's protocol: :mod:`daisy.messages` over :class:`daisy.tcp.TCPClient`."""

    def __init__(self, client):
        from .legacy.tcp import TCPClient

        self.client = client
        self.tcp_client = TCPClient(client.host, client.port)

    def acquire(self):
        from .legacy.messages import AcquireBlock, RequestShutdown, SendBlock, UnexpectedMessage
        from .legacy.tcp import NotConnected, StreamClosedError

        tcp_client = self.tcp_client
        try:
            tcp_client.send_message(AcquireBlock(self.client.task_id))
            message = tcp_client.get_message()
        except (StreamClosedError, NotConnected):
            return None
        if isinstance(message, SendBlock):
            return message.block
        if isinstance(message, RequestShutdown):
            tcp_client.disconnect()
            return None
        raise UnexpectedMessage(message)

    def release(self, block):
        from .legacy.messages import ReleaseBlock

        self.tcp_client.send_message(ReleaseBlock(block))

    def fail(self, block, exception):
        from .legacy.messages import BlockFailed

        self.tcp_client.send_message(BlockFailed(exception, block, self.client.context))


def _context_from_string(text: str, typed: bool = False) -> Context:
    """A :class:`daisy.Context` from a ``DAISY_CONTEXT`` text, parsed by the engine.

    With ``typed`` the port and worker ID are ints, as in the context daisy 1.x passed to
    ``init_callback_fn`` (a value that is not a number stays a string); otherwise all
    values are strings, as after ``Context.from_env()``.

    Raises:
        ValueError: naming the first item that is not of the form ``key=value``.
    """
    context = Context._parse(text)
    if typed:
        for key in ("port", "worker_id"):
            if key in context:
                try:
                    context._items[key] = int(context[key])
                except ValueError:
                    pass
    return context
