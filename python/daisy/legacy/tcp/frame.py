"""The bytes of one message on a :mod:`daisy.tcp` connection.

A frame is the project's framing (docs/protocol.md#3-framing)::

    +--------------------------+-------------------------------------------+
    | length: u32, big-endian  | payload: `length` bytes                   |
    +--------------------------+-------------------------------------------+

    payload = 07 | varint(len(p)) | p        with p = pickle.dumps(message)

``07`` is the variant tag reserved for Python peers, so these frames can share a
connection format with the engine's postcard messages; the varint is unsigned LEB128
(7 bits per byte, least significant group first). Frames above :data:`MAX_FRAME`
(64 MiB) are refused from their 4 header bytes, before the payload is read.
"""

from __future__ import annotations

import pickle
from typing import Any

MAX_FRAME = 64 << 20
"""The largest payload accepted or sent, in bytes (64 MiB)."""

PYTHON_TAG = 0x07
"""The variant tag of a pickled Python message."""

HEADER_SIZE = 4


class FrameError(Exception):
    """Bytes that are not a valid frame."""


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128 encoding of ``value`` (shortest form)."""
    if value < 0:
        raise ValueError(f"a varint must not be negative, got {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_varint(data: bytes, start: int = 0) -> tuple[int, int]:
    """Decodes an unsigned LEB128 u64 at ``data[start:]``; returns ``(value, end)``."""
    value = 0
    shift = 0
    for i in range(start, min(len(data), start + 10)):
        byte = data[i]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 1 << 64:
                raise FrameError("varint does not fit into 64 bits")
            return value, i + 1
        shift += 7
    if len(data) - start >= 10:
        raise FrameError("varint longer than 10 bytes")
    raise FrameError("truncated varint")


def encode_payload(message: Any) -> bytes:
    """The payload of ``message``: the Python tag, the pickle's length and the pickle."""
    pickled = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return bytes([PYTHON_TAG]) + encode_varint(len(pickled)) + pickled


def decode_payload(payload: bytes) -> Any:
    """Returns the message in ``payload``.

    Raises:
        FrameError: not a Python payload, a bad length, trailing bytes, or a pickle that
            cannot be loaded.
    """
    if not payload:
        raise FrameError("empty payload")
    if payload[0] != PYTHON_TAG:
        raise FrameError(
            f"payload starts with variant tag {payload[0]}, expected {PYTHON_TAG} (a Python message)"
        )
    length, start = decode_varint(payload, 1)
    if start + length != len(payload):
        raise FrameError(
            f"payload announces a pickle of {length} bytes but holds {len(payload) - start}"
        )
    try:
        return pickle.loads(payload[start:])
    except Exception as e:
        raise FrameError(f"cannot unpickle the message: {e!r}") from e


def encode_frame(message: Any, max_frame: int = MAX_FRAME) -> bytes:
    """The frame of ``message``: 4-byte big-endian length, then the payload.

    Raises:
        ValueError: the payload is larger than ``max_frame`` bytes.
    """
    payload = encode_payload(message)
    if len(payload) > max_frame:
        raise ValueError(
            f"message too large to send: its frame payload is {len(payload)} bytes, "
            f"the limit is {max_frame} bytes; message type {type(message).__name__}"
        )
    return len(payload).to_bytes(HEADER_SIZE, "big") + payload


def check_frame_length(header: bytes, max_frame: int = MAX_FRAME) -> int:
    """Returns the payload length announced by a 4-byte ``header``, or raises FrameError."""
    length = int.from_bytes(header, "big")
    if length == 0:
        raise FrameError("frame of length 0")
    if length > max_frame:
        raise FrameError(f"frame of {length} bytes is above the limit of {max_frame} bytes")
    return length


__all__ = [
    "MAX_FRAME",
    "PYTHON_TAG",
    "FrameError",
    "encode_varint",
    "decode_varint",
    "encode_payload",
    "decode_payload",
    "encode_frame",
    "check_frame_length",
]
