"""``org.apache.kafka.connect.converters.ByteArrayConverter``: bytes pass through unchanged.

Reading yields an optional bytes schema. Writing accepts ``bytes``, ``bytearray`` and
``memoryview`` with no schema or a BYTES schema, and refuses anything else like Connect does.
"""

from __future__ import annotations

from typing import Any

from streamapp.config.converter_options import BYTEARRAY_CONVERTER, ByteArrayConverterOptions
from streamapp.data import OPTIONAL_BYTES_SCHEMA, Schema, SchemaAndValue, Type, describe_value

from .errors import ConversionError

__all__ = ["ByteArrayConverter"]

_NULL_BYTES = SchemaAndValue(OPTIONAL_BYTES_SCHEMA, None)


class ByteArrayConverter:
    class_name = BYTEARRAY_CONVERTER

    def __init__(self, options: ByteArrayConverterOptions | None = None, *, is_key: bool = False) -> None:
        self.is_key = is_key
        self._context = f"ByteArrayConverter ({'key' if is_key else 'value'})"

    def to_connect(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return _NULL_BYTES
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise ConversionError(f"expected bytes, got {describe_value(data)}", context=self._context)
            data = bytes(data)
        return SchemaAndValue(OPTIONAL_BYTES_SCHEMA, data)

    def from_connect(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if schema is not None and schema.type is not Type.BYTES:
            raise ConversionError(
                f"invalid schema type for ByteArrayConverter: {schema.label()} (only bytes)", context=self._context
            )
        if value is None:
            return None
        if isinstance(value, bytes):
            return value
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        raise ConversionError(
            f"ByteArrayConverter is not compatible with {describe_value(value)}; it writes bytes only",
            context=self._context,
        )
