"""Errors raised by converters.

A :class:`ConversionError` is a record error (the connector's error policy applies), never a
crash; its message says what was wrong and quotes at most a short excerpt of the payload.
"""

from __future__ import annotations

from streamapp.data import DataError
from streamapp.errors import StreamAppError

__all__ = ["ConversionError", "ConverterUnavailableError", "excerpt"]

# Messages quote at most this many bytes of a payload: enough to recognise it in a log line,
# never a whole (possibly large or sensitive) message.
EXCERPT_BYTES = 64


class ConversionError(DataError):
    """Bytes could not be converted to Connect data, or Connect data to bytes (Connect's DataException)."""


class ConverterUnavailableError(StreamAppError, NotImplementedError):
    """A converter class that is known and configured correctly but not implemented yet."""


def excerpt(data: bytes | bytearray | memoryview, limit: int = EXCERPT_BYTES) -> str:
    """A bounded, printable excerpt of ``data`` for messages: ``b'{"a": 1'... (1234 bytes)``."""
    data = bytes(data)
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}... ({len(data)} bytes)"
