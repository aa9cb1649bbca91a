"""Primitive encodings and message framing of the Diffusion client protocol.

Everything here is pure bytes in, bytes out, so it can be unit tested without a socket:

* varints: unsigned LEB128 of the two's-complement bit pattern (not zig-zag), so -1 as an
  Int32 is ``ff ff ff ff 0f``;
* ``bytes`` (varint length + raw), ``string`` (UTF-8 bytes), ``string map``;
* one WebSocket binary frame per message: type byte, then the layout of that type;
* the 55-byte connection response and the 3-byte rejection;
* the base64 ``password`` header the SDK sends at the handshake.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping

from .codes import PROTOCOL_BYTE, MessageType

__all__ = [
    "Credentials",
    "ProtocolDecodeError",
    "Reader",
    "connection_rejected",
    "connection_response",
    "decode_credentials",
    "encode_bytes",
    "encode_string",
    "encode_string_map",
    "encode_varint",
    "parse_session_properties",
    "service_error",
    "service_request",
    "service_response",
    "topic_value",
]

_INT64_BITS = 64
# Control characters the SDK escapes in session properties; anything else after a backslash
# stands for itself (\\ \" \').
_UNESCAPE = {"t": "\t", "n": "\n", "r": "\r"}


class ProtocolDecodeError(ValueError):
    """A frame or header from the client could not be decoded."""


# --- encoding --------------------------------------------------------------------------------


def encode_varint(value: int, bits: int = _INT64_BITS) -> bytes:
    """LEB128 of the ``bits``-wide two's-complement pattern of ``value``."""
    if value < 0:
        # The SDK reads negative numbers as the wrapped unsigned pattern (not zig-zag).
        value += 1 << bits
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_bytes(data: bytes) -> bytes:
    return encode_varint(len(data)) + data


def encode_string(text: str) -> bytes:
    return encode_bytes(text.encode("utf-8"))


def encode_string_map(mapping: Mapping[str, str]) -> bytes:
    parts = [encode_varint(len(mapping))]
    for key, value in mapping.items():
        parts.append(encode_string(key))
        parts.append(encode_string(value))
    return b"".join(parts)


# --- decoding --------------------------------------------------------------------------------


class Reader:
    """Sequential decoder over one frame; every read raises ProtocolDecodeError when short."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self._data = data
        self._pos = pos

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def byte(self) -> int:
        if self._pos >= len(self._data):
            raise ProtocolDecodeError("frame ended early (expected a byte)")
        value = self._data[self._pos]
        self._pos += 1
        return value

    def varint(self, bits: int = _INT64_BITS) -> int:
        value = 0
        shift = 0
        while shift < bits:
            b = self.byte()
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                value &= (1 << bits) - 1
                # Back to a signed number: the SDK writes negatives as wrapped patterns.
                if value >= 1 << (bits - 1):
                    value -= 1 << bits
                return value
            shift += 7
        raise ProtocolDecodeError(f"varint longer than {bits} bits")

    def raw(self, length: int) -> bytes:
        if length < 0 or length > self.remaining:
            raise ProtocolDecodeError(f"frame ended early (expected {length} bytes)")
        chunk = self._data[self._pos : self._pos + length]
        self._pos += length
        return bytes(chunk)

    def bytes_(self) -> bytes:
        return self.raw(self.varint(32))

    def string(self) -> str:
        try:
            return self.bytes_().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolDecodeError(f"string is not UTF-8: {exc}") from exc

    def string_map(self) -> dict[str, str]:
        count = self.varint(32)
        if count < 0:
            raise ProtocolDecodeError("negative map size")
        return {self.string(): self.string() for _ in range(count)}

    def rest(self) -> bytes:
        return self.raw(self.remaining)


# --- frames ----------------------------------------------------------------------------------


def service_request(service_id: int, cid: int, body: bytes = b"") -> bytes:
    """Server-initiated request (notification or system ping)."""
    return bytes((MessageType.SERVICE_REQUEST,)) + encode_varint(service_id, 32) + encode_varint(cid) + body


def service_response(cid: int, body: bytes = b"") -> bytes:
    return bytes((MessageType.SERVICE_RESPONSE,)) + encode_varint(cid) + body


def service_error(cid: int, reason_code: int, message: str) -> bytes:
    # The SDK shows the leading message, or the description when the message is empty;
    # sending the same text in both keeps either path readable.
    return (
        bytes((MessageType.SERVICE_ERROR,))
        + encode_varint(cid)
        + encode_string(message)
        + encode_varint(reason_code, 32)
        + encode_string(message)
    )


def topic_value(topic_id: int, value: bytes) -> bytes:
    # The topic id is a fixed 4-byte big-endian int here, although it is a varint in
    # NOTIFY_SUBSCRIPTION.
    return bytes((MessageType.TOPIC_VALUE,)) + struct.pack(">i", topic_id) + value


def connection_response(
    session_server: int,
    session_value: int,
    token: bytes,
    ping_period_ms: int,
    max_message_size: int,
    *,
    version: int,
    code: int = 100,
) -> bytes:
    """The 55-byte success response; the clients reject any other length.

    ``version`` must be the client's own: every official client refuses a response carrying
    another.
    """
    if len(token) != 24:
        raise ValueError("session token must be exactly 24 bytes")
    return (
        bytes((PROTOCOL_BYTE, version, code))
        + struct.pack(">QQ", session_server, session_value)
        + token
        + struct.pack(">QL", ping_period_ms, max_message_size)
    )


def connection_rejected(code: int, *, version: int) -> bytes:
    """The 3-byte failure response; the clients check the version, then the code, nothing more."""
    return bytes((PROTOCOL_BYTE, version, code))


# --- handshake headers -----------------------------------------------------------------------


class Credentials:
    """Decoded ``password`` header: type 0 none, 1 plain password, 2 custom bytes."""

    NONE = 0
    PLAIN_PASSWORD = 1
    CUSTOM = 2

    __slots__ = ("data", "kind")

    def __init__(self, kind: int, data: bytes) -> None:
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:  # never show the secret itself
        return f"Credentials(kind={self.kind}, length={len(self.data)})"


def decode_credentials(header: str) -> Credentials:
    """``base64(type_byte || varint(len) || bytes)``; the empty string means no credentials."""
    if not header:
        return Credentials(Credentials.NONE, b"")
    try:
        raw = base64.b64decode(header, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolDecodeError("password header is not base64") from exc
    reader = Reader(raw)
    kind = reader.varint(8)
    data = reader.bytes_()
    return Credentials(kind, data)


def parse_session_properties(header: str) -> dict[str, str]:
    """Parse the ``sp`` header: escaped, double-quoted items joined by commas (k1,v1,k2,v2...).

    Only used for logging and introspection, so it is lenient: a malformed header yields
    whatever pairs could be read.
    """
    items: list[str] = []
    i = 0
    n = len(header)
    while i < n:
        if header[i] == ",":
            i += 1
            continue
        if header[i] != '"':
            # Unquoted item: read up to the next comma.
            end = header.find(",", i)
            end = n if end < 0 else end
            items.append(header[i:end])
            i = end
            continue
        i += 1
        buf = []
        while i < n and header[i] != '"':
            if header[i] == "\\" and i + 1 < n:
                i += 1
                buf.append(_UNESCAPE.get(header[i], header[i]))
            else:
                buf.append(header[i])
            i += 1
        items.append("".join(buf))
        i += 1  # closing quote
    return {items[k]: items[k + 1] for k in range(0, len(items) - 1, 2)}
