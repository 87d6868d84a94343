"""daisy.Client against a bare daisy.tcp.TCPServer (docs/semantics.md#workers-and-daisy_context)."""

import threading

import pytest

import daisy
from daisy import BlockStatus, Roi
from daisy.messages import AcquireBlock, BlockFailed, ReleaseBlock, RequestShutdown, SendBlock


def serve(server, blocks, received):
    """Answers AcquireBlock with the given blocks, then with RequestShutdown; records
    everything else."""
    blocks = list(blocks)
    while True:
        message = server.get_message(timeout=10)
        if message is None:
            return
        received.append(message)
        if isinstance(message, AcquireBlock):
            if blocks:
                message.stream.send_message(SendBlock(blocks.pop(0)))
            else:
                message.stream.send_message(RequestShutdown())
                return


def block(spatial_id):
    return daisy.Block(
        Roi((0,), (10,)), Roi((spatial_id,), (1,)), Roi((spatial_id,), (1,)), task_id="t"
    )


def start_serving(tcp_server, blocks, worker_id=0):
    """Starts a thread that serves ``blocks`` from ``tcp_server``; returns the context of a
    worker of task t, the list of messages the thread receives, and the thread."""
    host, port = tcp_server.address
    context = daisy.Context(hostname=host, port=port, task_id="t", worker_id=worker_id)
    received = []
    thread = threading.Thread(target=serve, args=(tcp_server, blocks, received))
    thread.start()
    return context, received, thread


@pytest.fixture
def tcp_server():
    server = daisy.tcp.TCPServer()
    yield server
    server.disconnect()


def test_client_speaks_daisy_messages_to_a_bare_tcp_server(tcp_server, caplog):
    context, received, thread = start_serving(tcp_server, [block(1), block(2)], worker_id=7)

    client = daisy.Client(context)
    assert (client.host, client.port, client.worker_id, client.task_id) == (
        *tcp_server.address,
        7,
        "t",
    )
    assert client.context is context
    with client.acquire_block() as b:
        assert b.block_id == ("t", 1)
        assert b.status == BlockStatus.PROCESSING
    with client.acquire_block() as b:
        assert b.block_id == ("t", 2)
        raise RuntimeError("bad block")  # swallowed
    with client.acquire_block() as b:
        assert b is None
    thread.join(timeout=10)

    kinds = [type(m).__name__ for m in received]
    assert kinds == [
        "AcquireBlock",
        "ReleaseBlock",
        "AcquireBlock",
        "BlockFailed",
        "ReleaseBlock",
        "AcquireBlock",
    ]
    assert received[0].task_id == "t"
    assert received[1].block.status == BlockStatus.SUCCESS
    failed = received[3]
    assert isinstance(failed, BlockFailed)
    assert repr(failed.exception) == "RuntimeError('bad block')"
    assert failed.block.block_id == ("t", 2)
    assert failed.context["worker_id"] == 7
    assert isinstance(received[4], ReleaseBlock)
    assert received[4].block.status == BlockStatus.FAILED
    assert any(
        "Block t/2" in r.getMessage() and "failed in worker 7" in r.getMessage()
        for r in caplog.records
    )


def test_keyboard_interrupt_releases_then_propagates(tcp_server):
    context, received, thread = start_serving(tcp_server, [block(3)])
    client = daisy.Client(context)
    with pytest.raises(KeyboardInterrupt):
        with client.acquire_block() as b:
            raise KeyboardInterrupt
    with client.acquire_block() as b:
        assert b is None
    thread.join(timeout=10)
    assert [type(m).__name__ for m in received] == ["AcquireBlock", "ReleaseBlock", "AcquireBlock"]
    assert received[1].block.status == BlockStatus.FAILED


def test_body_may_set_status_itself(tcp_server):
    context, received, thread = start_serving(tcp_server, [block(4)])
    client = daisy.Client(context)
    with client.acquire_block() as b:
        b.status = BlockStatus.FAILED
    with client.acquire_block() as b:
        assert b is None
    thread.join(timeout=10)
    assert received[1].block.status == BlockStatus.FAILED


def test_client_from_env(monkeypatch, tcp_server):
    context, received, thread = start_serving(tcp_server, [], worker_id=3)
    monkeypatch.setenv("DAISY_CONTEXT", context.to_env())
    client = daisy.Client()
    assert client.worker_id == 3 and client.task_id == "t" and client.port == tcp_server.address[1]
    with client.acquire_block() as b:
        assert b is None
    thread.join(timeout=10)
