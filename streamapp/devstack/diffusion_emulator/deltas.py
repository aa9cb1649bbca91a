"""Binary deltas: how update streams send a new value as a change to the previous one.

An update stream whose topic retains its value and allows conflation (the flags the server
returns when the stream is created) sends each later value to STREAM_APPLY_DELTA as a binary
delta against the previous one. The format is the same for every topic type, applied to the
value's bytes (CBOR for JSON, string, int64 and double):

* a sequence of CBOR data items;
* a byte string means "insert these bytes";
* an unsigned integer ``start`` followed by an unsigned integer ``length`` means "copy
  ``old[start:start + length]``";
* the single item ``f6`` (CBOR null, as the whole delta) means "no change".

The emulator only applies deltas; it always sends subscribers full values (TOPIC_VALUE).
"""

from __future__ import annotations

import io

import cbor2

__all__ = ["InvalidDelta", "apply_binary_delta"]

_NO_CHANGE = b"\xf6"


class InvalidDelta(ValueError):
    """The delta is not well formed, or copies bytes the old value does not have."""


def apply_binary_delta(old: bytes, delta: bytes) -> bytes:
    """The new value: ``delta`` applied to ``old``."""
    if delta == _NO_CHANGE:
        return old
    stream = io.BytesIO(delta)
    decoder = cbor2.CBORDecoder(stream)
    out = bytearray()
    while stream.tell() < len(delta):
        item = _next(decoder, "an insert or a match start")
        if isinstance(item, bytes):
            out += item
        elif isinstance(item, int) and not isinstance(item, bool):
            length = _next(decoder, "the length of a match")
            if not isinstance(length, int) or isinstance(length, bool):
                raise InvalidDelta(f"match length must be an integer, got {type(length).__name__}")
            if item < 0 or length < 0 or item + length > len(old):
                raise InvalidDelta(f"match [{item}, {item + length}) lies outside the old value ({len(old)} bytes)")
            out += old[item : item + length]
        else:
            raise InvalidDelta(f"unexpected {type(item).__name__} in a binary delta")
    return bytes(out)


def _next(decoder: cbor2.CBORDecoder, what: str) -> object:
    try:
        return decoder.decode()
    except (cbor2.CBORDecodeError, ValueError, EOFError) as exc:
        raise InvalidDelta(f"binary delta ended or broke where {what} was expected: {exc}") from exc
