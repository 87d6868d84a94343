"""daisy.tcp (docs/semantics.md#differences-from-daisy-1x-and-20) and daisy.messages (docs/semantics.md#differences-from-daisy-1x-and-20) over real sockets on loopback."""

import pickle
import socket
import sys
import threading
import time

import pytest
from funlib.geometry import Roi

from daisy.context import Context
from daisy.messages import (
    AcquireBlock,
    BlockFailed,
    ClientException,
    ExceptionMessage,
    Message,
    ReleaseBlock,
    RemoteException,
    RequestShutdown,
    SendBlock,
    UnexpectedMessage,
)
from daisy.tcp import (
    IOLooper,
    NoFreePort,
    NotConnected,
    StreamClosedError,
    TCPClient,
    TCPMessage,
    TCPServer,
    TCPStream,
)
from daisy.tcp import exceptions as tcp_exceptions
from daisy.tcp.frame import (
    MAX_FRAME,
    FrameError,
    decode_payload,
    decode_varint,
    encode_frame,
    encode_payload,
    encode_varint,
)
from daisy.tcp.handshake import authenticate_server

TIMEOUT = 10

pytestmark = pytest.mark.timeout(60)


def is_waiting_in(thread_id, name):
    """Whether the thread waits (on a lock or condition) inside a call of function ``name``."""
    frame = sys._current_frames().get(thread_id)
    if frame is None or frame.f_code.co_name != "wait":
        return False
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False


def call_when_waiting_in(name, action):
    """Calls ``action`` on another thread once the calling thread waits inside ``name``.

    Returns a function that joins that thread and says whether it saw the wait (else it
    called ``action`` after TIMEOUT anyway, to end the wait)."""
    waiter = threading.get_ident()
    seen = []

    def watch():
        deadline = time.monotonic() + TIMEOUT
        while not (waiting := is_waiting_in(waiter, name)) and time.monotonic() < deadline:
            time.sleep(0.001)
        seen.append(waiting)
        action()

    thread = threading.Thread(target=watch)
    thread.start()

    def join():
        thread.join()
        return seen == [True]

    return join


# Tests talk to loopback only: every server is given host="127.0.0.1" (and listens there
# only); host detection is tested with the interface lookup patched. Clients find the
# servers' tokens in $DAISY_TCP_TOKEN, which every TCPServer sets in this process.


@pytest.fixture
def server():
    server = TCPServer(host="127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def client(server):
    client = TCPClient(*server.address)
    yield client
    client.disconnect()


class Greeting(TCPMessage):
    """A user-defined message with its own fields."""

    def __init__(self, name, numbers):
        super().__init__()
        self.name = name
        self.numbers = numbers


class FakeBlock:
    """A picklable stand-in for daisy.Block (the engine may not be built)."""

    def __init__(self, task_id, spatial_id, read_roi, write_roi):
        self.block_id = (task_id, spatial_id)
        self.read_roi = read_roi
        self.write_roi = write_roi
        self.requested_write_roi = write_roi
        self.status = "PROCESSING"
        self.started_processing = None
        self.stopped_processing = None


class NeedsTwoArgs(Exception):
    """Pickles, but cannot be unpickled (its __init__ wants two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


class HoldsALock(Exception):
    """Cannot be pickled at all."""

    def __init__(self):
        super().__init__("with a lock")
        self.lock = threading.Lock()


def authenticated_socket(server):
    """A raw socket to ``server`` that passed the token handshake (frames come next)."""
    raw = socket.create_connection(server.address)
    authenticate_server(raw, server.token)
    return raw


def roundtrip(server, client, message):
    client.send_message(message)
    received = server.get_message(timeout=TIMEOUT)
    assert received is not None
    return received


# --- exceptions and module surface ---------------------------------------------------------


def test_exceptions_are_exception_subclasses_in_daisy_tcp_exceptions():
    for name in ("NotConnected", "NoFreePort", "StreamClosedError", "AuthenticationError"):
        cls = getattr(tcp_exceptions, name)
        assert issubclass(cls, Exception)
    assert tcp_exceptions.StreamClosedError is StreamClosedError
    assert issubclass(tcp_exceptions.AuthenticationError, ConnectionError)


def test_io_looper_clear_is_static():
    IOLooper.clear()
    assert IOLooper.threads == {}


# --- framing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, encoded",
    [
        (0, "00"),
        (1, "01"),
        (127, "7f"),
        (128, "8001"),
        (300, "ac02"),
        (16384, "808001"),
        (2**64 - 1, "ffffffffffffffffff01"),
    ],
)
def test_varint_is_unsigned_leb128(value, encoded):
    assert encode_varint(value).hex() == encoded
    assert decode_varint(bytes.fromhex(encoded)) == (value, len(encoded) // 2)


def test_varint_errors():
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(FrameError, match="truncated"):
        decode_varint(bytes.fromhex("8080"))
    with pytest.raises(FrameError, match="longer than 10 bytes"):
        decode_varint(bytes.fromhex("80" * 11))
    with pytest.raises(FrameError, match="64 bits"):
        decode_varint(bytes.fromhex("ffffffffffffffffff7f"))


def test_frame_layout():
    message = TCPMessage("hello")
    pickled = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    frame = encode_frame(message)
    payload = b"\x07" + encode_varint(len(pickled)) + pickled
    assert frame == len(payload).to_bytes(4, "big") + payload
    assert encode_payload(message) == payload
    assert decode_payload(payload).payload == "hello"


def test_decode_payload_errors():
    payload = encode_payload(TCPMessage(1))
    with pytest.raises(FrameError, match="variant tag 1, expected 7"):
        decode_payload(b"\x01" + payload[1:])
    with pytest.raises(FrameError, match="announces a pickle of"):
        decode_payload(payload + b"\x00")
    with pytest.raises(FrameError, match="announces a pickle of"):
        decode_payload(payload[:-1])
    with pytest.raises(FrameError, match="cannot unpickle"):
        decode_payload(b"\x07\x03abc")
    with pytest.raises(FrameError, match="empty payload"):
        decode_payload(b"")


def test_message_too_large_to_send():
    with pytest.raises(
        ValueError, match=r"message too large to send: .* the limit is 67108864 bytes"
    ):
        encode_frame(TCPMessage(b"x" * MAX_FRAME))
    with pytest.raises(ValueError, match="the limit is 10 bytes"):
        encode_frame(TCPMessage("hello"), max_frame=10)


# --- TCPServer / TCPClient ---------------------------------------------------------------------


def test_server_address_and_round_trip_with_reply(server, client):
    host, port = server.address
    assert isinstance(host, str) and isinstance(port, int) and port > 0
    assert client.connected()

    received = roundtrip(server, client, TCPMessage("hello"))
    assert type(received) is TCPMessage
    assert received.payload == "hello"
    assert isinstance(received.stream, TCPStream)
    host, port = received.stream.address
    assert repr(received.stream) == f"{host}:{port}"
    assert not received.stream.closed()

    received.stream.send_message(TCPMessage("hi back"))
    reply = client.get_message(timeout=TIMEOUT)
    assert reply.payload == "hi back"
    assert reply.stream is not None


def test_tcp_message_defaults():
    message = TCPMessage()
    assert message.payload is None
    assert message.stream is None


def test_subclassed_messages_and_arbitrary_payloads_round_trip(server, client):
    payloads = [None, 1, 2.5, "text", b"\x00bytes", [1, (2, 3)], {"a": {1, 2}}, Roi((1, 2), (3, 4))]
    for payload in payloads:
        assert roundtrip(server, client, TCPMessage(payload)).payload == payload
    received = roundtrip(server, client, Greeting("daisy", [1, 2, 3]))
    assert type(received) is Greeting
    assert (received.name, received.numbers) == ("daisy", [1, 2, 3])


def test_stream_is_not_sent_along(server, client):
    received = roundtrip(server, client, TCPMessage("first"))
    # re-sending a received message (which has .stream set) works: the stream stays behind
    received.stream.send_message(received)
    echoed = client.get_message(timeout=TIMEOUT)
    assert echoed.payload == "first"
    assert echoed.stream is not received.stream


def test_large_messages_round_trip(server, client):
    payload = bytes(range(256)) * (8 * 1024 * 4)  # 8 MiB
    assert roundtrip(server, client, TCPMessage(payload)).payload == payload


def test_get_message_timeouts(server, client):
    start = time.monotonic()
    assert server.get_message(timeout=0.2) is None
    assert time.monotonic() - start >= 0.15
    assert server.get_message(timeout=0) is None
    assert client.get_message(timeout=0.1) is None
    assert client.get_message(timeout=0) is None
    with pytest.raises(ValueError, match="timeout must be None or >= 0, got -1"):
        server.get_message(timeout=-1)
    with pytest.raises(ValueError, match="timeout must be None or >= 0"):
        client.get_message(timeout=-1)


def test_get_message_without_timeout_blocks_until_a_message_arrives(server, client):
    join = call_when_waiting_in("get_message", lambda: client.send_message(TCPMessage("late")))
    assert server.get_message().payload == "late"
    assert join(), "get_message() did not wait"


def test_many_clients_in_threads_keep_per_connection_order(server):
    n_clients, n_messages = 4, 50

    def run(index):
        c = TCPClient(*server.address)
        for i in range(n_messages):
            c.send_message(TCPMessage((index, i)))
        assert c.get_message(timeout=TIMEOUT).payload == ("done", index)
        c.disconnect()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    seen = {i: [] for i in range(n_clients)}
    for _ in range(n_clients * n_messages):
        message = server.get_message(timeout=TIMEOUT)
        index, i = message.payload
        seen[index].append(i)
        if len(seen[index]) == n_messages:
            message.stream.send_message(TCPMessage(("done", index)))
    for t in threads:
        t.join(TIMEOUT)
    assert all(seen[i] == list(range(n_messages)) for i in range(n_clients))
    # graceful disconnects produce nothing
    assert server.get_message(timeout=0.3) is None


def test_graceful_disconnect_produces_no_message_and_no_error(server, client):
    roundtrip(server, client, TCPMessage("x"))
    client.disconnect()
    assert not client.connected()
    assert server.get_message(timeout=0.5) is None
    deadline = time.monotonic() + TIMEOUT
    while server.client_streams and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not server.client_streams
    with pytest.raises(NotConnected):
        client.send_message(TCPMessage("y"))
    with pytest.raises(NotConnected):
        client.get_message(timeout=0)
    client.disconnect()  # a second disconnect is a no-op


def test_vanished_client_raises_stream_closed_error_once(server):
    raw = authenticated_socket(server)
    raw.sendall(encode_frame(TCPMessage("before vanishing")))
    raw.close()
    assert server.get_message(timeout=TIMEOUT).payload == "before vanishing"
    with pytest.raises(StreamClosedError) as e:
        server.get_message(timeout=TIMEOUT)
    assert isinstance(e.value.stream, TCPStream)
    assert e.value.stream.closed()
    assert server.get_message(timeout=0.3) is None


def test_client_dropped_without_handshake_raises_at_server(server):
    c = TCPClient(*server.address)
    roundtrip(server, c, TCPMessage(1))
    c.stream.close()  # no disconnect handshake
    with pytest.raises(StreamClosedError):
        server.get_message(timeout=TIMEOUT)


def test_oversized_frame_is_refused_from_its_header(server):
    raw = authenticated_socket(server)
    # Only the header: the server must not wait for 64 MiB + 1 bytes of payload.
    raw.sendall((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(
        StreamClosedError, match="67108865 bytes is above the limit of 67108864 bytes"
    ):
        server.get_message(timeout=TIMEOUT)
    raw.settimeout(TIMEOUT)
    assert raw.recv(1) == b""  # the server closed the connection
    raw.close()


@pytest.mark.parametrize(
    "frame, reason",
    [
        (b"\x00\x00\x00\x00", "frame of length 0"),
        (b"\x00\x00\x00\x02\x01\x00", "variant tag 1, expected 7"),
        (b"\x00\x00\x00\x03\x07\x05\x00", "announces a pickle of 5 bytes"),
    ],
)
def test_invalid_frames_close_the_connection(server, frame, reason):
    raw = authenticated_socket(server)
    raw.sendall(frame)
    with pytest.raises(StreamClosedError, match=reason):
        server.get_message(timeout=TIMEOUT)
    raw.close()


def test_close_inside_a_frame_is_reported(server):
    raw = authenticated_socket(server)
    raw.sendall(b"\x00\x00\x00\x10\x07")
    raw.close()
    with pytest.raises(StreamClosedError, match="inside a frame"):
        server.get_message(timeout=TIMEOUT)


def test_server_disconnect_closes_clients(server, client):
    received = roundtrip(server, client, TCPMessage("x"))
    server.disconnect()
    assert received.stream.closed()
    with pytest.raises(StreamClosedError):
        received.stream.send_message(TCPMessage("too late"))
    with pytest.raises(StreamClosedError):
        client.get_message(timeout=TIMEOUT)
    assert not client.connected()
    with pytest.raises(StreamClosedError):
        client.send_message(TCPMessage("too late"))
    with pytest.raises(NotConnected):
        client.get_message(timeout=0)
    # the server closed it on purpose: nothing to report there
    assert server.get_message(timeout=0.3) is None


def test_messages_before_a_server_close_are_delivered_first(server, client):
    received = roundtrip(server, client, TCPMessage("x"))
    received.stream.send_message(TCPMessage("last words"))
    received.stream.close()
    assert client.get_message(timeout=TIMEOUT).payload == "last words"
    with pytest.raises(StreamClosedError):
        client.get_message(timeout=TIMEOUT)


def test_blocked_get_message_wakes_up_when_the_server_closes(server, client):
    received = roundtrip(server, client, TCPMessage("x"))
    join = call_when_waiting_in("get_message", received.stream.close)
    with pytest.raises(StreamClosedError):
        client.get_message()
    assert join(), "get_message() did not wait"


def test_client_connect_errors_raise():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    with pytest.raises(OSError):
        TCPClient("127.0.0.1", port)


def test_server_with_given_host_advertises_it():
    server = TCPServer(host="127.0.0.1")
    try:
        assert server.address[0] == "127.0.0.1"
        c = TCPClient(*server.address)
        assert roundtrip(server, c, TCPMessage("ok")).payload == "ok"
        c.disconnect()
    finally:
        server.close()


def test_server_without_host_listens_on_all_interfaces(monkeypatch):
    from daisy.tcp import tcp_server

    monkeypatch.setattr(tcp_server, "_default_route_interface", lambda: None)
    server = TCPServer()
    try:
        assert server._listener.getsockname()[0] == "0.0.0.0"
        c = TCPClient("127.0.0.2", server.address[1])  # another loopback address
        assert roundtrip(server, c, TCPMessage("lo")).payload == "lo"
        c.disconnect()
    finally:
        server.close()


def test_host_detection_uses_the_default_route_interface_if_reachable(monkeypatch):
    from daisy.tcp import tcp_server

    monkeypatch.setattr(tcp_server, "_default_route_interface", lambda: "lo")
    monkeypatch.setattr(tcp_server, "_interface_ipv4", lambda interface: "127.0.0.2")
    server = TCPServer()
    try:
        assert server.address[0] == "127.0.0.2"
        # the probe connection used for the check is not reported as a client
        assert server.get_message(timeout=0.2) is None
        assert not server.client_streams
        c = TCPClient(*server.address)
        assert roundtrip(server, c, TCPMessage("ok")).payload == "ok"
        c.disconnect()
    finally:
        server.close()
    # empty string: detect as well
    server = TCPServer(host="")
    assert server.address[0] == "127.0.0.2"
    server.close()


def test_host_detection_falls_back_to_loopback(monkeypatch):
    from daisy.tcp import tcp_server

    monkeypatch.setattr(tcp_server, "_default_route_interface", lambda: None)
    server = TCPServer()
    assert server.address[0] == "127.0.0.1"
    server.close()
    monkeypatch.setattr(tcp_server, "_default_route_interface", lambda: "lo")
    monkeypatch.setattr(tcp_server, "_interface_ipv4", lambda interface: "127.0.0.2")
    monkeypatch.setattr(tcp_server, "_loopback_check", lambda listener, address: False)
    server = TCPServer()
    assert server.address[0] == "127.0.0.1"
    server.close()


def test_interface_lookup_helpers():
    from daisy.tcp import tcp_server

    assert tcp_server._interface_ipv4("lo") == "127.0.0.1"
    assert tcp_server._interface_ipv4("no-such-interface") is None
    interface = tcp_server._default_route_interface()
    assert interface is None or isinstance(interface, str)


def test_no_free_port():
    with pytest.raises(NoFreePort, match="could not find a free port after 0 tries"):
        TCPServer(max_port_tries=0)


def test_closed_server_refuses_connections():
    server = TCPServer(host="127.0.0.1")
    port = server.address[1]
    server.close()
    with pytest.raises(OSError):
        TCPClient("127.0.0.1", port)


def test_client_reconnects_after_disconnect(server, client):
    client.disconnect()
    client.connect()
    assert client.connected()
    assert roundtrip(server, client, TCPMessage("again")).payload == "again"


def test_unpicklable_message_raises_at_the_sender(server, client):
    with pytest.raises((TypeError, pickle.PicklingError)):
        client.send_message(TCPMessage(threading.Lock()))
    assert client.connected()
    assert roundtrip(server, client, TCPMessage("still fine")).payload == "still fine"


# --- daisy.messages -------------------------------------------------------------------------------


def make_block():
    try:
        from daisy.block import Block, BlockStatus
    except Exception:
        return FakeBlock("A", 12, Roi((1, 1), (3, 3)), Roi((2, 2), (1, 1)))
    block = Block(Roi((0, 0), (10, 10)), Roi((1, 1), (3, 3)), Roi((2, 2), (1, 1)), task_id="A")
    block.status = BlockStatus.SUCCESS
    block.started_processing = 1.5
    block.stopped_processing = 2.5
    return block


def assert_same_block(a, b):
    for field in (
        "block_id",
        "read_roi",
        "write_roi",
        "requested_write_roi",
        "status",
        "started_processing",
        "stopped_processing",
    ):
        assert getattr(a, field) == getattr(b, field), field
    assert isinstance(b.read_roi, Roi)


def test_message_classes_are_tcp_messages_with_a_stream():
    block = make_block()
    messages = [
        Message(),
        ExceptionMessage(RuntimeError("x")),
        AcquireBlock("A"),
        SendBlock(block),
        ReleaseBlock(block),
        RequestShutdown(),
        ClientException(RuntimeError("x"), Context()),
        BlockFailed(RuntimeError("x"), block, Context()),
    ]
    for message in messages:
        assert isinstance(message, TCPMessage)
        assert isinstance(message, Message)
        assert message.stream is None
    assert issubclass(BlockFailed, ClientException)
    assert issubclass(ClientException, ExceptionMessage)
    assert issubclass(UnexpectedMessage, Exception)


def test_every_daisy_message_round_trips_with_its_fields(server, client):
    block = make_block()
    context = Context(hostname="h", port=1, task_id="A", worker_id=3)

    m = roundtrip(server, client, AcquireBlock("A"))
    assert type(m) is AcquireBlock and m.task_id == "A" and m.stream is not None

    m = roundtrip(server, client, SendBlock(block))
    assert type(m) is SendBlock
    assert_same_block(block, m.block)

    m = roundtrip(server, client, ReleaseBlock(block))
    assert type(m) is ReleaseBlock
    assert_same_block(block, m.block)

    m = roundtrip(server, client, RequestShutdown())
    assert type(m) is RequestShutdown

    m = roundtrip(server, client, Message())
    assert type(m) is Message

    m = roundtrip(server, client, ExceptionMessage(ValueError("bad")))
    assert type(m) is ExceptionMessage and repr(m.exception) == "ValueError('bad')"

    m = roundtrip(server, client, ClientException(RuntimeError("boom"), context))
    assert type(m) is ClientException
    assert type(m.exception) is RuntimeError and m.exception.args == ("boom",)
    assert m.context.to_env() == context.to_env()

    m = roundtrip(server, client, BlockFailed(KeyError("k"), block, context))
    assert type(m) is BlockFailed
    assert repr(m.exception) == "KeyError('k')"
    assert_same_block(block, m.block)
    assert m.context["worker_id"] == 3


def test_unpicklable_exceptions_travel_as_stand_ins_with_the_same_repr(server, client):
    block = make_block()
    for exception in (NeedsTwoArgs(1, 2), HoldsALock()):
        original = repr(exception)
        m = roundtrip(server, client, BlockFailed(exception, block, Context(worker_id=1)))
        assert isinstance(m.exception, RemoteException)
        assert isinstance(m.exception, Exception)
        assert repr(m.exception) == original
        assert str(m.exception) == str(exception)
        assert m.exception.type_name.endswith(type(exception).__qualname__)
    # the message itself still holds the original
    message = ClientException(HoldsALock(), Context())
    client.send_message(message)
    assert isinstance(message.exception, HoldsALock)
    assert repr(server.get_message(timeout=TIMEOUT).exception) == repr(message.exception)


def test_stand_in_keeps_the_traceback_text():
    try:
        raise HoldsALock()
    except HoldsALock as e:
        stand_in = RemoteException.from_exception(e)
    assert "raise HoldsALock()" in stand_in.traceback_text
    again = pickle.loads(pickle.dumps(stand_in))
    assert repr(again) == repr(stand_in)
    assert again.traceback_text == stand_in.traceback_text


def test_unexpected_message_carries_the_message():
    message = AcquireBlock("A")
    error = UnexpectedMessage(message)
    assert error.message is message
    assert "unexpected message" in str(error) and "AcquireBlock" in str(error)
    with pytest.raises(UnexpectedMessage) as e:
        raise error
    assert e.value.message is message
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is UnexpectedMessage and again.message.task_id == "A"


def test_message_reprs_name_fields():
    assert repr(AcquireBlock("A")) == "AcquireBlock(payload=None, task_id='A')"
    assert repr(RequestShutdown()) == "RequestShutdown(payload=None)"
