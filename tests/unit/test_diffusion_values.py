"""Connect data -> values for Diffusion JSON, STRING, INT64, DOUBLE and BINARY topics."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import math
import struct

import cbor2
import pytest
from diffusion.datatypes import JSON
from diffusion.features.topics import SetTopic

from streamapp.converters import ConversionError
from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DATE_SCHEMA,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    TIME_SCHEMA,
    TIMESTAMP_SCHEMA,
    RecordError,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)
from streamapp.diffusion.values import (
    ValueConversionError,
    encode_diffusion_json,
    to_diffusion_binary,
    to_diffusion_double,
    to_diffusion_int64,
    to_diffusion_json,
    to_diffusion_string,
)

UTC = dt.UTC
D = decimal.Decimal
ADDRESS = struct_schema([("city", STRING_SCHEMA), ("zip", OPTIONAL_STRING_SCHEMA)], name="Address")
ORDER = struct_schema(
    [
        ("id", INT64_SCHEMA),
        ("total", decimal_schema(2)),
        ("ratio", FLOAT64_SCHEMA),
        ("raw", BYTES_SCHEMA),
        ("placed", TIMESTAMP_SCHEMA),
        ("ship_to", ADDRESS),
        ("lines", array_schema(map_schema(STRING_SCHEMA, INT32_SCHEMA))),
        ("note", Schema(Type.STRING, optional=True, default="none")),
    ],
    name="Order",
)
ORDER_VALUE = Struct(
    ORDER,
    {
        "id": 9,
        "total": D("12.30"),
        "ratio": 0.1,
        "raw": b"\x00\xff",
        "placed": dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
        "ship_to": Struct(ADDRESS, {"city": "Lyon"}),
        "lines": [{"sku": 1, "qty": 2}],
    },
)
ORDER_JSON = {
    "id": 9,
    "total": "12.30",
    "ratio": 0.1,
    "raw": b"\x00\xff",
    "placed": "2024-01-02T03:04:05.678Z",
    "ship_to": {"city": "Lyon", "zip": None},
    "lines": [{"sku": 1, "qty": 2}],
    "note": "none",
}


# ----------------------------------------------------------------------------- JSON topics


@pytest.mark.parametrize(
    "schema, value, expected",
    [
        (INT8_SCHEMA, -5, -5),
        (INT64_SCHEMA, 2**63 - 1, 2**63 - 1),
        (FLOAT32_SCHEMA, 1.5, 1.5),
        (FLOAT64_SCHEMA, 0.1, 0.1),
        (FLOAT64_SCHEMA, 3, 3.0),
        (BOOLEAN_SCHEMA, True, True),
        (STRING_SCHEMA, "é", "é"),
        (BYTES_SCHEMA, bytearray(b"\x01"), b"\x01"),
        (array_schema(INT32_SCHEMA), (1, 2), [1, 2]),
        (map_schema(STRING_SCHEMA, OPTIONAL_INT32_SCHEMA), {"b": 1, "a": None}, {"b": 1, "a": None}),
        (decimal_schema(2), D("12.3"), "12.30"),
        (decimal_schema(0), D("-123456789012345678901234567890"), "-123456789012345678901234567890"),
        (decimal_schema(-2), D("1E+3"), "1000"),
        (DATE_SCHEMA, dt.date(2024, 2, 29), "2024-02-29"),
        (DATE_SCHEMA, dt.date(99, 1, 1), "0099-01-01"),
        (TIME_SCHEMA, dt.time(7, 8, 9, 10000), "07:08:09.010"),
        (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "2024-01-02T03:04:05.006Z"),
        (
            TIMESTAMP_SCHEMA,
            dt.datetime(2024, 1, 2, 4, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            "2024-01-02T03:00:00.000Z",
        ),
        (ORDER, ORDER_VALUE, ORDER_JSON),
    ],
)
def test_json_mapping_with_schema(schema, value, expected):
    result = to_diffusion_json(schema, value)
    assert result == expected and type(result) is type(expected)


def test_struct_fields_come_in_schema_order():
    assert list(to_diffusion_json(ORDER, ORDER_VALUE)) == [f.name for f in ORDER.fields]


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        ({"z": 1, "a": [1.5, "x", None, True]}, {"z": 1, "a": [1.5, "x", None, True]}),
        ((1, 2), [1, 2]),
        (2**64 - 1, 2**64 - 1),
        (-(2**63), -(2**63)),
        (b"\x00", b"\x00"),
        (memoryview(b"ab"), b"ab"),
        (D("0.10"), "0.10"),
        (dt.date(2024, 1, 1), "2024-01-01"),
        (dt.time(12), "12:00:00.000"),
        (dt.datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00.000Z"),
        (Struct(ADDRESS, {"city": "x"}), {"city": "x", "zip": None}),
        (math.inf, math.inf),
    ],
)
def test_json_mapping_without_schema(value, expected):
    assert to_diffusion_json(None, value) == expected


def test_nulls_follow_the_schema():
    assert to_diffusion_json(OPTIONAL_INT32_SCHEMA, None) is None
    assert to_diffusion_json(Schema(Type.INT32, default=4), None) == 4
    assert to_diffusion_json(Schema(Type.INT32, optional=True, default=4), None) == 4
    assert to_diffusion_json(array_schema(OPTIONAL_INT32_SCHEMA), [None]) == [None]


@pytest.mark.parametrize(
    "schema, value, expected",
    [
        (map_schema(INT32_SCHEMA, STRING_SCHEMA), {1: "a", 20: "b"}, [[1, "a"], [20, "b"]]),
        (None, {1: "a"}, [[1, "a"]]),
        (None, {"ok": {(1, 2): "a"}}, {"ok": [[[1, 2], "a"]]}),
        (map_schema(STRING_SCHEMA, INT32_SCHEMA), {"b": 2, "a": 1}, {"b": 2, "a": 1}),
    ],
)
def test_maps_with_keys_that_are_not_text_become_key_value_pairs_as_connect_writes_them(schema, value, expected):
    # Connect's JsonConverter writes such a map as an array of [key, value] arrays; so does the CoAP sink.
    assert to_diffusion_json(schema, value) == expected


JSON_ERRORS = [
    (INT32_SCHEMA, None, "null value for required int32"),
    (ORDER, Struct(ORDER, {"id": 1}), "total: null value for required Decimal(scale=2)"),
    (map_schema(INT32_SCHEMA, INT8_SCHEMA), {1: 300}, "[1]: 300 is out of range for int8"),
    (None, [0, 2**64], "[1]: integer 18446744073709551616 does not fit in 64 bits"),
    (None, -(2**63) - 1, "integer -9223372036854775809 does not fit in 64 bits"),
    (INT8_SCHEMA, 200, "200 is out of range for int8"),
    (INT32_SCHEMA, "1", "expected a value of int32, got str '1'"),
    (BOOLEAN_SCHEMA, 1, "expected a value of boolean, got int 1"),
    (FLOAT64_SCHEMA, 10**400, "1000000000000000000000000000000000000... (401 characters) is too large for a double"),
    (STRING_SCHEMA, b"x", "expected a value of string, got bytes"),
    (ORDER, {"id": 1}, "expected a Struct for struct 'Order', got dict"),
    (array_schema(INT32_SCHEMA), [1, "x"], "[1]: expected a value of int32"),
    (decimal_schema(2), D("1.234"), "decimal 1.234 has more than 2 digits after the point"),
    (decimal_schema(2), 1.5, "a Decimal value must be a decimal.Decimal, got float"),
    (None, D("NaN"), "expected a finite decimal"),
    (DATE_SCHEMA, dt.datetime(2024, 1, 1, tzinfo=UTC), "a Date value must be a datetime.date"),
    (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 1), "a Timestamp value must be timezone-aware"),
    (None, {1, 2}, "set {1, 2} has no Diffusion JSON form"),
]


@pytest.mark.parametrize("schema, value, message", JSON_ERRORS)
def test_json_errors_are_record_errors_with_location(schema, value, message):
    with pytest.raises(ValueConversionError) as caught:
        to_diffusion_json(schema, value)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ConversionError) and isinstance(caught.value, RecordError)


def test_deep_nesting_is_an_error_not_a_crash():
    value: list = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(ValueConversionError, match="nested too deeply"):
        to_diffusion_json(None, value)


# ----------------------------------------------------------------------------- through the SDK


FLOATS = [0.1, 0.30000000000000004, 1 / 3, 2.0**-1074, 1.7976931348623157e308, -0.0, 1.5, 123456789.12345679, 1e-7]


@pytest.mark.parametrize("number", FLOATS)
def test_sdk_json_datatype_keeps_float64_precision(number):
    data = JSON.encode(to_diffusion_json(FLOAT64_SCHEMA, number))
    decoded = cbor2.loads(data)
    assert decoded == number and math.copysign(1, decoded) == math.copysign(1, number)
    assert struct.pack(">d", decoded) == struct.pack(">d", number)  # bit for bit


def test_sdk_json_datatype_writes_doubles_as_cbor_float64_when_needed():
    assert JSON.encode(0.1) == b"\xfb" + struct.pack(">d", 0.1)


def test_sdk_json_datatype_writes_bytes_as_cbor_byte_strings():
    data = JSON.encode(to_diffusion_json(None, {"raw": b"\x00\xff"}))
    assert b"\x42\x00\xff" in data  # major type 2 (byte string) of length 2
    assert cbor2.loads(data) == {"raw": b"\x00\xff"}


def test_a_whole_record_survives_the_sdk_encoding():
    value = to_diffusion_json(ORDER, ORDER_VALUE)
    decoded = cbor2.loads(encode_diffusion_json(value))
    assert decoded == ORDER_JSON and list(decoded) == list(ORDER_JSON)
    assert encode_diffusion_json(value) == JSON.encode(value)


def test_top_level_bytes_must_be_pre_encoded_because_set_topic_sends_bytes_as_is():
    # The SDK treats a bytes value as an encoded payload: raw bytes would not be valid CBOR of them.
    assert SetTopic(specification=JSON, topic_path="a", value=b"\x01\x02").value == b"\x01\x02"
    encoded = encode_diffusion_json(to_diffusion_json(BYTES_SCHEMA, b"\x01\x02"))
    assert encoded == b"\x42\x01\x02" and cbor2.loads(encoded) == b"\x01\x02"
    assert SetTopic(specification=JSON, topic_path="a", value=encoded).value == encoded


def test_sdk_encoding_failure_is_a_value_conversion_error():
    with pytest.raises(ValueConversionError, match="the Diffusion SDK cannot encode the value as CBOR"):
        encode_diffusion_json(2**70)


# ----------------------------------------------------------------------------- STRING topics


@pytest.mark.parametrize(
    "schema, value, text",
    [
        (STRING_SCHEMA, "plain", "plain"),
        (None, "", ""),
        (BYTES_SCHEMA, "é".encode(), "é"),
        (None, True, "true"),
        (INT64_SCHEMA, 42, "42"),
        (FLOAT64_SCHEMA, 0.1, "0.1"),
        (None, 1e16, "1e+16"),
        (decimal_schema(2), D("5"), "5.00"),
        (DATE_SCHEMA, dt.date(2024, 1, 31), "2024-01-31"),
        (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 31, tzinfo=UTC), "2024-01-31T00:00:00.000Z"),
        (ADDRESS, Struct(ADDRESS, {"city": "Zürich"}), '{"city":"Zürich","zip":null}'),
        (None, {"raw": b"\x00"}, '{"raw":"AA=="}'),
        (array_schema(INT32_SCHEMA), [1, 2], "[1,2]"),
        (OPTIONAL_STRING_SCHEMA, None, None),
        (Schema(Type.STRING, default="d"), None, "d"),
    ],
)
def test_string_topic_values(schema, value, text):
    assert to_diffusion_string(schema, value) == text


@pytest.mark.parametrize(
    "schema, value, message",
    [
        (STRING_SCHEMA, None, "null value for required string"),
        (None, b"\xff", "bytes are not UTF-8 text (invalid byte at 0), so they have no string form; value b'\\xff'"),
        (INT32_SCHEMA, "5", "expected a value of int32, got str '5'"),
    ],
)
def test_string_topic_errors(schema, value, message):
    with pytest.raises(ValueConversionError, match=None) as caught:
        to_diffusion_string(schema, value)
    assert message in str(caught.value)


# ----------------------------------------------------------------------------- INT64 topics


@pytest.mark.parametrize(
    "schema, value, number",
    [
        (INT64_SCHEMA, 2**63 - 1, 2**63 - 1),
        (None, -(2**63), -(2**63)),
        (INT8_SCHEMA, 5, 5),
        (None, 3.0, 3),
        (None, D("7.00"), 7),
        (STRING_SCHEMA, " -42 ", -42),
        (None, "+7", 7),
        (DATE_SCHEMA, dt.date(1970, 1, 11), 10),
        (TIME_SCHEMA, dt.time(0, 0, 1), 1000),
        (TIMESTAMP_SCHEMA, dt.datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC), 2000),
        (None, dt.datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC), 2000),
        (None, dt.date(1970, 1, 2), 1),
        (OPTIONAL_INT32_SCHEMA, None, None),
    ],
)
def test_int64_topic_values(schema, value, number):
    result = to_diffusion_int64(schema, value)
    assert result == number and (result is None or type(result) is int)


@pytest.mark.parametrize(
    "schema, value, message",
    [
        (None, 2**63, "9223372036854775808 is beyond 64 bits; an INT64 topic holds -2**63..2**63-1"),
        (None, -(2**63) - 1, "is beyond 64 bits"),
        (None, "99999999999999999999", "is beyond 64 bits"),
        (None, 1.5, "1.5 is not an integer, so it does not fit an INT64 topic"),
        (None, math.nan, "nan is not an integer"),
        (None, D("Infinity"), "Infinity is not an integer"),
        (None, "1.0", "the string '1.0' is not a decimal integer, so it does not fit an INT64 topic"),
        (None, "0x10", "is not a decimal integer"),
        (None, True, "a boolean (True) does not fit an INT64 topic"),
        (ADDRESS, Struct(ADDRESS, {"city": "x"}), "a struct 'Address' value does not fit an INT64 topic"),
        (None, Struct(ADDRESS, {"city": "x"}), "a struct does not fit an INT64 topic"),
        (None, {"a": 1}, "a map does not fit an INT64 topic"),
        (None, [1], "an array does not fit an INT64 topic"),
        (None, b"1", "a bytes value does not fit an INT64 topic"),
        (INT64_SCHEMA, None, "null value for required int64"),
        (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 1), "must be timezone-aware"),
    ],
)
def test_int64_topic_errors(schema, value, message):
    with pytest.raises(ValueConversionError) as caught:
        to_diffusion_int64(schema, value)
    assert message in str(caught.value)


# ----------------------------------------------------------------------------- DOUBLE topics


@pytest.mark.parametrize(
    "schema, value, number",
    [
        (FLOAT64_SCHEMA, 0.1, 0.1),
        (None, 2**53, 2.0**53),
        (INT32_SCHEMA, -3, -3.0),
        (decimal_schema(2), D("12.30"), 12.3),
        (None, " 1.5e3 ", 1500.0),
        (None, "-.5", -0.5),
        (None, "7", 7.0),
        (None, math.inf, math.inf),
        (None, "-Infinity", -math.inf),
        (OPTIONAL_INT32_SCHEMA, None, None),
    ],
)
def test_double_topic_values(schema, value, number):
    result = to_diffusion_double(schema, value)
    assert result == number and (result is None or type(result) is float)


def test_double_topic_keeps_nan():
    assert math.isnan(to_diffusion_double(None, "NaN"))


@pytest.mark.parametrize(
    "value, message",
    [
        (
            2**53 + 1,
            "integer 9007199254740993 has no exact double representation (beyond 2**53), so it does not fit a DOUBLE topic",
        ),
        (10**400, "has no exact double representation"),
        (False, "a boolean (False) does not fit a DOUBLE topic"),
        ("1,5", "the string '1,5' is not a number, so it does not fit a DOUBLE topic"),
        ("1_000", "is not a number"),
        (D("sNaN"), "sNaN does not fit a DOUBLE topic"),
        ([1.0], "an array does not fit a DOUBLE topic"),
        (dt.date(2024, 1, 1), "a date value does not fit a DOUBLE topic"),
    ],
)
def test_double_topic_errors(value, message):
    with pytest.raises(ValueConversionError) as caught:
        to_diffusion_double(None, value)
    assert message in str(caught.value)


# ----------------------------------------------------------------------------- BINARY topics


@pytest.mark.parametrize(
    "schema, value, data",
    [
        (BYTES_SCHEMA, b"\x00\xff", b"\x00\xff"),
        (None, bytearray(b"a"), b"a"),
        (None, memoryview(b"a"), b"a"),
        (STRING_SCHEMA, "é", "é".encode()),
        (Schema(Type.BYTES, optional=True), None, None),
    ],
)
def test_binary_topic_values(schema, value, data):
    assert to_diffusion_binary(schema, value) == data


@pytest.mark.parametrize(
    "schema, value, message",
    [
        (
            INT32_SCHEMA,
            5,
            "a int32 value does not fit a BINARY topic; use a JSON topic, or org.apache.kafka.connect.converters.ByteArrayConverter",
        ),
        (None, {"a": 1}, "a map does not fit a BINARY topic"),
        (None, "\ud800", "has no UTF-8 form"),
        (BYTES_SCHEMA, None, "null value for required bytes"),
    ],
)
def test_binary_topic_errors(schema, value, message):
    with pytest.raises(ValueConversionError) as caught:
        to_diffusion_binary(schema, value)
    assert message in str(caught.value)


def test_required_null_with_default_uses_the_default_for_every_topic_type():
    schema = dataclasses.replace(INT64_SCHEMA, default=5)
    assert to_diffusion_int64(schema, None) == 5
    assert to_diffusion_double(schema, None) == 5.0
    assert to_diffusion_string(schema, None) == "5"
    assert to_diffusion_binary(Schema(Type.BYTES, default=b"d"), None) == b"d"
