"""daisy.tcp under abuse: no pickle of an unauthenticated peer is ever loaded, in either
direction, and a server listens where it was told. Real sockets on loopback."""

import errno
import os
import pickle
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from daisy.tcp import (
    TOKEN_ENV,
    AuthenticationError,
    TCPClient,
    TCPMessage,
    TCPServer,
    tcp_server,
)
from daisy.tcp.frame import encode_frame
from daisy.tcp.handshake import MAGIC, authenticate_server

TIMEOUT = 10

pytestmark = pytest.mark.timeout(60)


class CreatesAFile:
    """Unpickling this creates ``path`` (any code could run instead)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def evil_frame(path):
    """A well-formed daisy.tcp frame whose pickle creates ``path`` when loaded."""
    return encode_frame(TCPMessage(CreatesAFile(path)))


def wait_closed_by_peer(sock):
    """Reads until the peer closes (or resets) the connection; returns what it sent."""
    sock.settimeout(TIMEOUT)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:  # closed with our bytes unread
        pass
    return received


@pytest.fixture
def server():
    server = TCPServer(host="127.0.0.1")
    yield server
    server.close()


def test_unauthenticated_peer_sending_a_pickle_is_not_unpickled(server, tmp_path):
    target = tmp_path / "created_by_pickle"
    raw = socket.create_connection(server.address)
    raw.sendall(evil_frame(target) * 4)  # more than the handshake's 64 bytes
    # The server read the "answer" to its greeting, refused it and closed the connection.
    wait_closed_by_peer(raw)
    raw.close()
    assert server.get_message(timeout=0.2) is None
    assert not target.exists()
    assert not server.client_streams


def test_peer_with_a_wrong_token_is_refused_and_its_pickle_not_unpickled(server, tmp_path):
    target = tmp_path / "created_by_pickle"
    raw = socket.create_connection(server.address)
    with pytest.raises(AuthenticationError, match="refused the token"):
        authenticate_server(raw, "not the token")
    try:
        raw.sendall(evil_frame(target))
    except OSError:
        pass  # already closed by the server
    assert wait_closed_by_peer(raw) == b""
    raw.close()
    with pytest.raises(AuthenticationError, match="refused the token"):
        TCPClient(*server.address, token="not the token either")
    assert server.get_message(timeout=0.2) is None
    assert not target.exists()


def fake_server(send):
    """A listening socket whose first peer is answered by ``send(connection)``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        connection, _ = listener.accept()
        with connection:
            send(connection)
            try:
                wait_closed_by_peer(connection)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_client_does_not_unpickle_what_an_unauthenticated_server_sends(tmp_path):
    target = tmp_path / "created_by_pickle"
    # A server that sends a pickle right away (no handshake) ...
    listener, thread = fake_server(lambda c: c.sendall(evil_frame(target)))
    with pytest.raises(AuthenticationError, match="not a daisy.tcp server"):
        TCPClient(*listener.getsockname(), token="t")
    thread.join(TIMEOUT)
    listener.close()
    # ... and one that greets but cannot prove it knows the token.
    listener, thread = fake_server(
        lambda c: c.sendall(MAGIC + bytes(32) + bytes(32) + evil_frame(target))
    )
    with pytest.raises(AuthenticationError, match="does not know the token"):
        TCPClient(*listener.getsockname(), token="t")
    thread.join(TIMEOUT)
    listener.close()
    assert not target.exists()


def test_client_without_a_token_refuses_to_connect(server, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(AuthenticationError, match=f"no token.*{TOKEN_ENV}"):
        TCPClient(*server.address)
    assert server.get_message(timeout=0.2) is None
    # With the token it connects.
    client = TCPClient(*server.address, token=server.token)
    client.send_message(TCPMessage("with the token"))
    assert server.get_message(timeout=TIMEOUT).payload == "with the token"
    client.disconnect()


def test_handshake_has_a_deadline_and_a_cap_on_pending_peers(monkeypatch):
    monkeypatch.setattr(tcp_server, "HANDSHAKE_TIMEOUT", 0.3)
    monkeypatch.setattr(tcp_server, "MAX_PENDING_HANDSHAKES", 2)
    server = TCPServer(host="127.0.0.1")
    try:
        idle = [socket.create_connection(server.address) for _ in range(2)]
        for sock in idle:  # greeted: their handshakes are pending
            sock.settimeout(TIMEOUT)
            assert sock.recv(len(MAGIC)) == MAGIC
        extra = socket.create_connection(server.address)
        assert wait_closed_by_peer(extra) == b""  # closed at once, not greeted
        extra.close()
        start = time.monotonic()
        for sock in idle:  # closed after the deadline
            wait_closed_by_peer(sock)
            sock.close()
        assert time.monotonic() - start < TIMEOUT / 2
        # The slots are free again.
        client = TCPClient(*server.address)
        client.send_message(TCPMessage("after the flood"))
        assert server.get_message(timeout=TIMEOUT).payload == "after the flood"
        client.disconnect()
    finally:
        server.close()


def test_server_binds_the_given_host_only(server):
    host, port = server._listener.getsockname()[:2]
    assert (host, port) == server.address == ("127.0.0.1", port)
    # Another loopback address reaches nothing on that port.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", port), timeout=TIMEOUT).close()


def test_server_binds_an_ipv6_host():
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = TCPServer(host="::1")
    except OSError as e:
        if e.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            pytest.skip(f"no IPv6 loopback: {e}")
        raise
    try:
        assert server._listener.family == socket.AF_INET6
        assert server._listener.getsockname()[0] == "::1"
        client = TCPClient(*server.address)
        client.send_message(TCPMessage("v6"))
        assert server.get_message(timeout=TIMEOUT).payload == "v6"
        client.disconnect()
    finally:
        server.close()


def test_server_refuses_a_host_that_is_not_this_machine():
    with pytest.raises(OSError, match="192.0.2.1.*not an address of this machine"):
        TCPServer(host="192.0.2.1")  # TEST-NET-1, never local


CHILD = textwrap.dedent(
    """
    import sys
    from daisy.tcp import TCPClient, TCPMessage

    client = TCPClient(sys.argv[1], int(sys.argv[2]))   # daisy 1.x's call, no token
    client.send_message(TCPMessage("ping"))
    print(client.get_message(timeout=10).payload, flush=True)
    client.disconnect()
    """
)


def test_daisy_1x_usage_works_in_processes_the_server_starts(server):
    """A 1.x script unchanged: the worker process it starts inherits DAISY_TCP_TOKEN."""
    assert os.environ[TOKEN_ENV] == server.token
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *map(str, server.address)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        message = server.get_message(timeout=TIMEOUT)
        assert message.payload == "ping"
        message.stream.send_message(TCPMessage("pong"))
        out, _ = child.communicate(timeout=TIMEOUT)
    finally:
        child.kill()
    assert out == "pong\n"
    assert child.returncode == 0


def test_servers_share_the_token_of_the_environment(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "shared secret")
    first = TCPServer(host="127.0.0.1")
    second = TCPServer(host="127.0.0.1", token="own secret")
    try:
        assert first.token == "shared secret"
        assert second.token == os.environ[TOKEN_ENV] == "own secret"
        with pytest.raises(AuthenticationError):
            TCPClient(*first.address)  # now offers "own secret"
        client = TCPClient(*first.address, token="shared secret")
        client.disconnect()
    finally:
        first.close()
        second.close()
    with pytest.raises(TypeError, match="token must be a str"):
        TCPServer(host="127.0.0.1", token=b"bytes")


def test_pickles_still_round_trip_between_authenticated_peers(server):
    client = TCPClient(*server.address)
    client.send_message(TCPMessage({"any": [pickle.HIGHEST_PROTOCOL]}))
    message = server.get_message(timeout=TIMEOUT)
    assert message.payload == {"any": [pickle.HIGHEST_PROTOCOL]}
    message.stream.send_message(TCPMessage("reply"))
    assert client.get_message(timeout=TIMEOUT).payload == "reply"
    client.disconnect()
