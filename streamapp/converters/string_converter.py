"""``org.apache.kafka.connect.storage.StringConverter``: bytes <-> str in a configured charset.

Reading always yields an optional string schema (a null message gives a null value), as in
Connect. Writing ignores the schema like Connect; where Connect would call Java's ``toString()``
on any object (``Struct{a=1}``, ``[B@1f2a``), only strings and the scalar types with an
unambiguous text form are accepted: ``bool`` as ``true``/``false``, ``int``, ``float`` and
``decimal.Decimal`` as their digits. Anything else is a :class:`ConversionError` that points to
the JsonConverter.
"""

from __future__ import annotations

import codecs
import decimal
from typing import Any

from streamapp.config.converter_options import STRING_CONVERTER, StringConverterOptions
from streamapp.data import OPTIONAL_STRING_SCHEMA, Schema, SchemaAndValue, describe_value

from .errors import ConversionError, excerpt

__all__ = ["StringConverter"]

_NULL_STRING = SchemaAndValue(OPTIONAL_STRING_SCHEMA, None)


class StringConverter:
    class_name = STRING_CONVERTER

    def __init__(self, options: StringConverterOptions | None = None, *, is_key: bool = False) -> None:
        options = options or StringConverterOptions()
        self.is_key = is_key
        # Java charset names (UTF-8, ISO-8859-1, US-ASCII, UTF-16) are all Python codec aliases;
        # normalise once so the hot path calls bytes.decode with the canonical name.
        self.encoding = codecs.lookup(options.encoding).name
        self.charset = options.encoding  # as configured, for messages
        self._context = f"StringConverter ({'key' if is_key else 'value'})"

    def to_connect(self, topic: str, data: bytes | None) -> SchemaAndValue:
        if data is None:
            return _NULL_STRING
        try:
            return SchemaAndValue(OPTIONAL_STRING_SCHEMA, str(data, self.encoding))
        except UnicodeDecodeError as exc:
            raise ConversionError(
                f"not valid {self.charset} at byte {exc.start}: {exc.reason}; input {excerpt(data)}",
                context=self._context,
            ) from None
        except TypeError:
            raise ConversionError(f"expected bytes, got {describe_value(data)}", context=self._context) from None

    def from_connect(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, str):
            text = value
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, decimal.Decimal):
            text = format(value, "f") if value.is_finite() else str(value)
        else:
            raise ConversionError(
                f"can only write strings, booleans and numbers, got {describe_value(value)}; "
                "use org.apache.kafka.connect.json.JsonConverter for structured values",
                context=self._context,
            )
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise ConversionError(
                f"character {text[exc.start : exc.start + 1]!r} at position {exc.start} cannot be encoded in "
                f"{self.charset}",
                context=self._context,
            ) from None
