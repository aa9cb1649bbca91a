"""StringConverter: bytes <-> str in the configured charset, as Connect's StringConverter."""

from __future__ import annotations

import decimal

import pytest

from streamapp.config.converter_options import StringConverterOptions
from streamapp.converters import ConversionError, StringConverter
from streamapp.data import OPTIONAL_STRING_SCHEMA, STRING_SCHEMA, SchemaAndValue, Struct, struct_schema


def converter(encoding: str = "UTF-8", *, is_key: bool = False) -> StringConverter:
    return StringConverter(StringConverterOptions.model_validate({"converter.encoding": encoding}), is_key=is_key)


@pytest.mark.parametrize(
    "encoding, data, text",
    [
        ("UTF-8", b"price", "price"),
        ("UTF-8", b"", ""),
        ("UTF-8", "Grüße €".encode(), "Grüße €"),
        ("UTF-8", b"\xf0\x9f\x98\x80", "\U0001f600"),
        ("ISO-8859-1", b"caf\xe9", "café"),
        ("US-ASCII", b"abc", "abc"),
        ("UTF-16", "hé".encode("utf-16"), "hé"),
        ("UTF-16BE", "hé".encode("utf-16-be"), "hé"),
    ],
)
def test_reads_text_with_an_optional_string_schema(encoding, data, text):
    assert converter(encoding).to_connect("t", data) == SchemaAndValue(OPTIONAL_STRING_SCHEMA, text)


@pytest.mark.parametrize(
    "encoding, text",
    [("UTF-8", "price"), ("UTF-8", ""), ("UTF-8", "Grüße € \U0001f600"), ("ISO-8859-1", "café"), ("UTF-16", "hé")],
)
def test_round_trip(encoding, text):
    conv = converter(encoding)
    for schema in (None, STRING_SCHEMA, OPTIONAL_STRING_SCHEMA):
        assert conv.to_connect("t", conv.from_connect("t", schema, text)).value == text


def test_null_is_null_both_ways():
    conv = converter()
    assert conv.to_connect("t", None) == SchemaAndValue(OPTIONAL_STRING_SCHEMA, None)
    assert conv.from_connect("t", OPTIONAL_STRING_SCHEMA, None) is None
    assert conv.from_connect("t", None, None) is None


@pytest.mark.parametrize(
    "value, text",
    [
        (True, b"true"),
        (False, b"false"),
        (42, b"42"),
        (-7, b"-7"),
        (1.5, b"1.5"),
        (0.1, b"0.1"),
        (decimal.Decimal("12.30"), b"12.30"),
        (decimal.Decimal("1E+3"), b"1000"),
    ],
)
def test_writes_scalars_as_their_text(value, text):
    assert converter().from_connect("t", None, value) == text


@pytest.mark.parametrize(
    "value", [{"a": 1}, [1, 2], b"bytes", Struct(struct_schema([("a", STRING_SCHEMA)]), {"a": "x"})]
)
def test_structured_values_are_refused_with_a_hint(value):
    with pytest.raises(
        ConversionError,
        match=r"can only write strings, booleans and numbers.*use org\.apache\.kafka\.connect\.json\.JsonConverter",
    ):
        converter().from_connect("t", None, value)


def test_invalid_bytes_name_the_charset_and_position_and_quote_a_bounded_excerpt():
    data = b"ok" + b"\xff" + b"x" * 5000
    with pytest.raises(ConversionError) as caught:
        converter(is_key=True).to_connect("t", data)
    message = str(caught.value)
    assert message.startswith("StringConverter (key): not valid UTF-8 at byte 2: invalid start byte; input b'ok\\xff")
    assert message.endswith("(5003 bytes)") and len(message) < 250


def test_text_that_does_not_fit_the_charset_is_an_error():
    with pytest.raises(ConversionError, match="character '€' at position 1 cannot be encoded in ISO-8859-1"):
        converter("ISO-8859-1").from_connect("t", None, "a€")


def test_non_bytes_input_is_an_error():
    with pytest.raises(ConversionError, match="expected bytes, got int 5"):
        converter().to_connect("t", 5)  # type: ignore[arg-type]
