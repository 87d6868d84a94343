"""The token handshake that opens every :mod:`daisy.tcp` connection.

Messages on a :mod:`daisy.tcp` connection are pickles, and unpickling runs code chosen by
the sender. So before either side reads a single frame, both prove that they know the
server's *token*, a shared secret, without sending it (HMAC-SHA256 challenge and
response, as :mod:`multiprocessing.connection` does)::

    server -> client:  MAGIC (16 bytes) | server nonce (32 random bytes)
    client -> server:  client nonce (32 bytes) | HMAC(token, "client" | both nonces)
    server -> client:  HMAC(token, "server" | both nonces)

A server that gets a wrong answer (or none within :data:`HANDSHAKE_TIMEOUT` seconds)
closes the connection without reading anything else from it; a client that gets a wrong
proof from the server does the same. Fresh nonces on both sides make a recorded handshake
useless for another connection. The handshake authenticates; it does not encrypt: on a
network where others can read or inject traffic, tunnel the connection (e.g. over SSH).

Where the token comes from:

- :class:`~daisy.tcp.TCPServer` uses ``token=`` if given, else the environment variable
  :data:`TOKEN_ENV` (``DAISY_TCP_TOKEN``), else a new random token; it puts its token into
  ``os.environ[TOKEN_ENV]``, so processes started from then on (workers) inherit it;
- :class:`~daisy.tcp.TCPClient` uses ``token=`` if given, else :data:`TOKEN_ENV`, and
  refuses to connect without one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket

from .exceptions import AuthenticationError

TOKEN_ENV = "DAISY_TCP_TOKEN"
"""The environment variable holding the token of a :mod:`daisy.tcp` server."""

MAGIC = b"daisy.tcp auth1\n"
"""The 16 bytes a server starts every connection with."""

NONCE_SIZE = 32
MAC_SIZE = 32

HANDSHAKE_TIMEOUT = 10.0
"""Seconds either side waits for the other's part of the handshake."""


def _check_token(token: object, who: str) -> str:
    if not isinstance(token, str):
        raise TypeError(
            f"{who}: token must be a str or None, got {token!r} of type {type(token).__name__}"
        )
    if not token:
        raise ValueError(f"{who}: token must not be empty")
    return token


def server_token(token: str | None) -> str:
    """The token of a new server: ``token``, else ``$DAISY_TCP_TOKEN``, else a new random
    one. It is exported to ``os.environ[TOKEN_ENV]`` for the processes started later."""
    if token is None:
        token = os.environ.get(TOKEN_ENV) or secrets.token_hex(32)
    token = _check_token(token, "TCPServer")
    os.environ[TOKEN_ENV] = token
    return token


def client_token(token: str | None, host: str, port: int) -> str:
    """The token a client proves it knows: ``token``, else ``$DAISY_TCP_TOKEN``.

    Raises:
        AuthenticationError: there is neither.
    """
    if token is None:
        token = os.environ.get(TOKEN_ENV) or None
    if token is None:
        raise AuthenticationError(
            f"TCPClient({host!r}, {port}): no token. daisy.tcp exchanges pickles only with "
            f"peers that know the server's token: pass token=server.token, or set "
            f"{TOKEN_ENV} (processes started by the server's process after it was created "
            f"inherit it)"
        )
    return _check_token(token, "TCPClient")


def _mac(token: str, side: bytes, server_nonce: bytes, client_nonce: bytes) -> bytes:
    return hmac.new(token.encode(), side + server_nonce + client_nonce, hashlib.sha256).digest()


def _receive_exactly(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes from ``sock`` (fewer if the peer closed first)."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def authenticate_client(
    sock: socket.socket, token: str, timeout: float = HANDSHAKE_TIMEOUT
) -> None:
    """The server's side: checks that the peer on ``sock`` knows ``token``.

    Raises:
        AuthenticationError: the peer answered wrongly, or not within ``timeout`` seconds.
    """
    server_nonce = secrets.token_bytes(NONCE_SIZE)
    sock.settimeout(timeout)
    try:
        sock.sendall(MAGIC + server_nonce)
        answer = _receive_exactly(sock, NONCE_SIZE + MAC_SIZE)
    except OSError as e:  # includes the timeout
        raise AuthenticationError(f"no answer to the token handshake: {e}") from e
    if len(answer) < NONCE_SIZE + MAC_SIZE:
        raise AuthenticationError("the peer closed the connection during the token handshake")
    client_nonce, proof = answer[:NONCE_SIZE], answer[NONCE_SIZE:]
    if not hmac.compare_digest(proof, _mac(token, b"client", server_nonce, client_nonce)):
        raise AuthenticationError("the peer does not know the server's token")
    try:
        sock.sendall(_mac(token, b"server", server_nonce, client_nonce))
    except OSError as e:
        raise AuthenticationError(f"the token handshake broke off: {e}") from e
    sock.settimeout(None)


def authenticate_server(
    sock: socket.socket, token: str, timeout: float = HANDSHAKE_TIMEOUT
) -> None:
    """The client's side: proves to the server on ``sock`` that it knows ``token``, and
    checks that the server knows it too.

    Raises:
        AuthenticationError: the peer is not a daisy.tcp server, refused the token, or
            could not prove it knows the token.
    """
    sock.settimeout(timeout)
    try:
        greeting = _receive_exactly(sock, len(MAGIC) + NONCE_SIZE)
        if len(greeting) < len(MAGIC) + NONCE_SIZE or not greeting.startswith(MAGIC):
            raise AuthenticationError(
                "the peer is not a daisy.tcp server that authenticates its clients "
                "(no token handshake)"
            )
        server_nonce = greeting[len(MAGIC) :]
        client_nonce = secrets.token_bytes(NONCE_SIZE)
        sock.sendall(client_nonce + _mac(token, b"client", server_nonce, client_nonce))
        proof = _receive_exactly(sock, MAC_SIZE)
    except OSError as e:
        raise AuthenticationError(f"the token handshake failed: {e}") from e
    if len(proof) < MAC_SIZE:
        raise AuthenticationError(
            f"the server refused the token (check that {TOKEN_ENV} or token= is the server's token)"
        )
    if not hmac.compare_digest(proof, _mac(token, b"server", server_nonce, client_nonce)):
        raise AuthenticationError("the server does not know the token")
    sock.settimeout(None)


__all__ = [
    "TOKEN_ENV",
    "MAGIC",
    "HANDSHAKE_TIMEOUT",
    "server_token",
    "client_token",
    "authenticate_client",
    "authenticate_server",
]
