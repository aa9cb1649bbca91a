"""ByteArrayConverter: bytes pass through unchanged, as Connect's ByteArrayConverter."""

from __future__ import annotations

import pytest

from streamapp.converters import ByteArrayConverter, ConversionError
from streamapp.data import BYTES_SCHEMA, OPTIONAL_BYTES_SCHEMA, STRING_SCHEMA, SchemaAndValue

CONVERTER = ByteArrayConverter(is_key=False)


@pytest.mark.parametrize("data", [b"", b"\x00\xff", bytes(range(256)), b"x" * 100_000])
def test_bytes_pass_through_both_ways(data):
    assert CONVERTER.to_connect("t", data) == SchemaAndValue(OPTIONAL_BYTES_SCHEMA, data)
    for schema in (None, BYTES_SCHEMA, OPTIONAL_BYTES_SCHEMA):
        assert CONVERTER.to_connect("t", CONVERTER.from_connect("t", schema, data)).value == data


@pytest.mark.parametrize("value", [bytearray(b"ab"), memoryview(b"ab")])
def test_bytes_like_values_are_written_as_bytes(value):
    assert CONVERTER.from_connect("t", None, value) == b"ab"
    assert CONVERTER.to_connect("t", value).value == b"ab"


def test_null_is_null_both_ways():
    assert CONVERTER.to_connect("t", None) == SchemaAndValue(OPTIONAL_BYTES_SCHEMA, None)
    assert CONVERTER.from_connect("t", None, None) is None


def test_a_non_bytes_schema_is_refused():
    with pytest.raises(ConversionError, match="invalid schema type for ByteArrayConverter: string"):
        CONVERTER.from_connect("t", STRING_SCHEMA, b"x")


@pytest.mark.parametrize("value", ["text", 5, {"a": 1}])
def test_a_non_bytes_value_is_refused(value):
    with pytest.raises(
        ConversionError, match="ByteArrayConverter \\(value\\): ByteArrayConverter is not compatible with"
    ):
        CONVERTER.from_connect("t", None, value)


def test_non_bytes_input_is_refused():
    with pytest.raises(ConversionError, match="expected bytes, got str"):
        CONVERTER.to_connect("t", "text")  # type: ignore[arg-type]
