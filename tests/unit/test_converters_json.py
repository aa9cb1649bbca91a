"""JsonConverter: Connect's JSON format with and without the schema envelope."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import math

import pytest

from streamapp.config.converter_options import JsonConverterOptions
from streamapp.converters import ConversionError, JsonConverter
from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DATE_SCHEMA,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT16_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_BOOLEAN_SCHEMA,
    OPTIONAL_BYTES_SCHEMA,
    OPTIONAL_DATE_SCHEMA,
    OPTIONAL_FLOAT32_SCHEMA,
    OPTIONAL_FLOAT64_SCHEMA,
    OPTIONAL_INT8_SCHEMA,
    OPTIONAL_INT16_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_INT64_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    OPTIONAL_TIME_SCHEMA,
    OPTIONAL_TIMESTAMP_SCHEMA,
    STRING_SCHEMA,
    TIME_SCHEMA,
    TIMESTAMP_SCHEMA,
    Schema,
    SchemaAndValue,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)

UTC = dt.UTC
D = decimal.Decimal


def json_converter(*, schemas: bool = True, is_key: bool = False, **options: object) -> JsonConverter:
    config = {"schemas.enable": schemas, **options}
    return JsonConverter(JsonConverterOptions.model_validate(config), is_key=is_key)


WITH = json_converter()
WITHOUT = json_converter(schemas=False)
NUMERIC = json_converter(**{"decimal.format": "NUMERIC"})

ADDRESS = struct_schema([("city", STRING_SCHEMA), ("zip", OPTIONAL_STRING_SCHEMA)], name="Address")
PERSON = struct_schema(
    [
        ("id", INT64_SCHEMA),
        ("name", STRING_SCHEMA),
        ("score", OPTIONAL_FLOAT64_SCHEMA),
        ("address", ADDRESS),
        ("tags", array_schema(STRING_SCHEMA)),
        ("balance", decimal_schema(2)),
        ("born", OPTIONAL_DATE_SCHEMA),
    ],
    name="com.example.Person",
    version=3,
)
ADA = Struct(
    PERSON,
    {
        "id": 1,
        "name": "Ada",
        "score": 0.1,
        "address": Struct(ADDRESS, {"city": "London"}),
        "tags": ["math", "engines"],
        "balance": D("1234.50"),
        "born": dt.date(1815, 12, 10),
    },
)

# Every Connect type with a value of it (schema, value); used for round trips with both formats.
TYPED_VALUES = [
    (INT8_SCHEMA, -128),
    (INT8_SCHEMA, 127),
    (INT16_SCHEMA, -32768),
    (INT32_SCHEMA, 2**31 - 1),
    (INT64_SCHEMA, -(2**63)),
    (INT64_SCHEMA, 2**63 - 1),
    (FLOAT32_SCHEMA, 1.100000023841858),
    (FLOAT32_SCHEMA, 3.4028234663852886e38),
    (FLOAT64_SCHEMA, 0.1),
    (FLOAT64_SCHEMA, 0.30000000000000004),
    (FLOAT64_SCHEMA, 1.7976931348623157e308),
    (FLOAT64_SCHEMA, 5e-324),
    (FLOAT64_SCHEMA, -0.0),
    (BOOLEAN_SCHEMA, True),
    (BOOLEAN_SCHEMA, False),
    (STRING_SCHEMA, ""),
    (STRING_SCHEMA, 'quote " backslash \\ newline \n unicode é \U0001f600'),
    (BYTES_SCHEMA, b""),
    (BYTES_SCHEMA, bytes(range(256))),
    (decimal_schema(2), D("12.30")),
    (decimal_schema(2), D("-0.01")),
    (decimal_schema(0), D("123456789012345678901234567890")),
    (decimal_schema(9), D("12345678901234567890.123456789")),
    (DATE_SCHEMA, dt.date(2024, 2, 29)),
    (DATE_SCHEMA, dt.date(1, 1, 1)),
    (TIME_SCHEMA, dt.time(23, 59, 59, 999000)),
    (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
    (TIMESTAMP_SCHEMA, dt.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC)),
    (array_schema(INT32_SCHEMA), []),
    (array_schema(OPTIONAL_INT32_SCHEMA), [1, None, 3]),
    (array_schema(array_schema(STRING_SCHEMA)), [["a"], [], ["b", "c"]]),
    (map_schema(STRING_SCHEMA, INT32_SCHEMA), {"b": 2, "a": 1}),
    (map_schema(STRING_SCHEMA, OPTIONAL_STRING_SCHEMA), {"k": None}),
    (map_schema(INT32_SCHEMA, STRING_SCHEMA), {1: "one", -2: "minus two"}),
    (map_schema(BOOLEAN_SCHEMA, FLOAT64_SCHEMA), {True: 0.5}),
    (map_schema(decimal_schema(1), STRING_SCHEMA), {D("1.5"): "x"}),
    (map_schema(array_schema(INT32_SCHEMA), STRING_SCHEMA), {(1, 2): "pair"}),
    (map_schema(STRING_SCHEMA, map_schema(STRING_SCHEMA, BYTES_SCHEMA)), {"outer": {"inner": b"\x01"}}),
    (ADDRESS, Struct(ADDRESS, {"city": "Paris", "zip": "75001"})),
    (PERSON, ADA),
    (array_schema(ADDRESS), [Struct(ADDRESS, {"city": "A"}), Struct(ADDRESS, {"city": "B"})]),
]
OPTIONAL_SCHEMAS = [
    OPTIONAL_INT8_SCHEMA,
    OPTIONAL_INT16_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_INT64_SCHEMA,
    OPTIONAL_FLOAT32_SCHEMA,
    OPTIONAL_FLOAT64_SCHEMA,
    OPTIONAL_BOOLEAN_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    OPTIONAL_BYTES_SCHEMA,
    decimal_schema(2, optional=True),
    OPTIONAL_DATE_SCHEMA,
    OPTIONAL_TIME_SCHEMA,
    OPTIONAL_TIMESTAMP_SCHEMA,
    array_schema(INT32_SCHEMA, optional=True),
    map_schema(STRING_SCHEMA, INT32_SCHEMA, optional=True),
    struct_schema([("a", INT32_SCHEMA)], optional=True),
]


def ids(cases):
    return [f"{schema.label()}-{index}" for index, (schema, _) in enumerate(cases)]


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("converter", [WITH, NUMERIC], ids=["base64", "numeric"])
@pytest.mark.parametrize("schema, value", TYPED_VALUES, ids=ids(TYPED_VALUES))
def test_round_trip_with_schemas(converter, schema, value):
    data = converter.from_connect("t", schema, value)
    assert converter.to_connect("t", data) == SchemaAndValue(schema, value)


@pytest.mark.parametrize("schema", OPTIONAL_SCHEMAS, ids=lambda s: s.label())
def test_round_trip_of_null_with_optional_schemas(schema):
    data = WITH.from_connect("t", schema, None)
    assert json.loads(data)["payload"] is None
    assert WITH.to_connect("t", data) == SchemaAndValue(schema, None)


SCHEMALESS_VALUES = [
    None,
    True,
    0,
    -(2**63),
    2**64 + 5,  # JSON has no integer limit; neither does Python
    0.1,
    1e308,
    5e-324,
    -0.0,
    "",
    "é\U0001f600",
    [],
    [1, "a", None, 2.5, [True]],
    {},
    {"z": 1, "a": {"nested": [1, {"deep": None}]}},
]


@pytest.mark.parametrize("value", SCHEMALESS_VALUES, ids=repr)
@pytest.mark.parametrize("converter", [WITHOUT, WITH], ids=["plain", "envelope"])
def test_round_trip_without_schemas(converter, value):
    data = converter.from_connect("t", None, value)
    if value is None:
        assert data is None  # no schema and no value: a tombstone, as in Connect
        return
    assert converter.to_connect("t", data) == SchemaAndValue(None, value)
    if isinstance(value, dict):  # objects keep their key order
        written = json.loads(data)
        assert list(written["payload"] if converter is WITH else written) == list(value)


@pytest.mark.parametrize(
    "value, read_back",
    [
        (b"\x00\xff", "AP8="),  # bytes become base64 text, as in Connect
        ((1, 2), [1, 2]),
        ({1: "a", 2: "b"}, [[1, "a"], [2, "b"]]),  # non-string keys become [key, value] pairs
        ({"a": b"x"}, {"a": "eA=="}),
        (Struct(struct_schema([("a", INT32_SCHEMA)]), {"a": 1}), {"a": 1}),
    ],
)
def test_schemaless_values_without_a_json_form_come_back_as_connect_reads_them(value, read_back):
    assert WITHOUT.to_connect("t", WITHOUT.from_connect("t", None, value)).value == read_back


# ----------------------------------------------------------------------------- plain JSON


@pytest.mark.parametrize(
    "data, value",
    [
        (b'{"b": 1, "a": 2}', {"b": 1, "a": 2}),
        (b"[1, 2.5, true, null]", [1, 2.5, True, None]),
        (b"12345678901234567890123", 12345678901234567890123),
        (b"0.1", 0.1),
        (b"1e400", math.inf),
        (b"0.30000000000000004", 0.30000000000000004),
        (b"1.7976931348623157e308", 1.7976931348623157e308),
        (b'"\\u00e9"', "é"),
        (b"null", None),
        (b"", None),  # Jackson reads empty input as a missing node: null without schemas
        (b"  \n", None),
        ("é".join(['"', '"']).encode("utf-16"), "é"),
    ],
)
def test_plain_json_is_read_into_python_values(data, value):
    assert WITHOUT.to_connect("t", data) == SchemaAndValue(None, value)


def test_plain_json_keeps_integers_as_int_and_floats_as_float():
    value = WITHOUT.to_connect("t", b'{"i": 3, "f": 3.0, "e": 1e2}').value
    assert type(value["i"]) is int and type(value["f"]) is float and type(value["e"]) is float


def test_plain_json_is_written_compactly_in_order():
    assert WITHOUT.from_connect("t", None, {"b": [1, 2.5], "a": "é"}) == '{"b":[1,2.5],"a":"é"}'.encode()


def test_plain_json_from_a_schema_writes_connect_forms():
    schema = struct_schema([("d", decimal_schema(2)), ("when", DATE_SCHEMA), ("raw", BYTES_SCHEMA)])
    value = Struct(schema, {"d": D("1.56"), "when": dt.date(1970, 1, 11), "raw": b"\x01"})
    assert WITHOUT.from_connect("t", schema, value) == b'{"d":"AJw=","when":10,"raw":"AQ=="}'


def test_null_message_is_null():
    assert WITH.to_connect("t", None) == SchemaAndValue(None, None)
    assert WITHOUT.to_connect("t", None) == SchemaAndValue(None, None)


@pytest.mark.parametrize("data", [b"NaN", b"[Infinity]", b'{"a": -Infinity}'])
@pytest.mark.parametrize("converter", [WITH, WITHOUT], ids=["envelope", "plain"])
def test_nan_and_infinities_are_not_json_and_not_read(converter, data):
    # Connect's Jackson refuses them (ALLOW_NON_NUMERIC_NUMBERS is off); Python's json would accept them.
    with pytest.raises(ConversionError, match="is not a JSON number"):
        converter.to_connect("t", data)


NON_FINITE_WRITES = [
    (
        WITH,
        FLOAT64_SCHEMA,
        math.nan,
        "payload: cannot write nan as JSON: JSON has no NaN or infinities (Kafka "
        'Connect\'s JsonConverter would write the string "NaN", which it reads back as 0.0)',
    ),
    (WITH, OPTIONAL_FLOAT32_SCHEMA, math.inf, "payload: cannot write inf as JSON"),
    (WITH, PERSON, Struct(PERSON, {**dict(ADA.items()), "score": -math.inf}), "payload.score: cannot write -inf"),
    (WITH, array_schema(FLOAT64_SCHEMA), [1.0, 2.0, math.nan], "payload[2]: cannot write nan"),
    (WITH, map_schema(STRING_SCHEMA, FLOAT64_SCHEMA), {"ok": 1.0, "bad": math.inf}, "payload.bad: cannot write inf"),
    (WITH, map_schema(INT32_SCHEMA, FLOAT64_SCHEMA), {7: math.nan}, "payload[0][1]: cannot write nan"),
    (WITH, None, {"readings": [0.5, math.nan]}, "payload.readings[1]: cannot write nan"),
    (WITHOUT, None, math.inf, "JsonConverter (value): cannot write inf as JSON"),
    (WITHOUT, FLOAT64_SCHEMA, math.nan, "JsonConverter (value): cannot write nan as JSON"),
    (WITH, Schema(Type.FLOAT64, default=math.nan), 1.0, "schema.default: cannot write nan as JSON"),
]


@pytest.mark.parametrize("converter, schema, value, message", NON_FINITE_WRITES)
def test_nan_and_infinities_are_not_written_and_the_error_says_where(converter, schema, value, message):
    # Connect writes the strings "NaN"/"Infinity" (Jackson's QUOTE_NON_NUMERIC_NUMBERS), which its own
    # reader turns into 0.0 for a float field; streamapp refuses the record instead.
    with pytest.raises(ConversionError) as caught:
        converter.from_connect("t", schema, value)
    assert message in str(caught.value)
    assert str(caught.value).startswith("JsonConverter (value): ")


# ----------------------------------------------------------------------------- Connect's wire format


@pytest.mark.parametrize(
    "schema, value, data",
    [
        (BOOLEAN_SCHEMA, True, b'{"schema":{"type":"boolean","optional":false},"payload":true}'),
        (FLOAT32_SCHEMA, 1.5, b'{"schema":{"type":"float","optional":false},"payload":1.5}'),
        (OPTIONAL_FLOAT64_SCHEMA, 0.1, b'{"schema":{"type":"double","optional":true},"payload":0.1}'),
        (OPTIONAL_INT32_SCHEMA, None, b'{"schema":{"type":"int32","optional":true},"payload":null}'),
        (STRING_SCHEMA, "x", b'{"schema":{"type":"string","optional":false},"payload":"x"}'),
        (BYTES_SCHEMA, b"\x01\x02", b'{"schema":{"type":"bytes","optional":false},"payload":"AQI="}'),
        (
            array_schema(INT32_SCHEMA),
            [1],
            b'{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1]}',
        ),
        (
            map_schema(INT32_SCHEMA, STRING_SCHEMA),
            {1: "a"},
            b'{"schema":{"type":"map","keys":{"type":"int32","optional":false},'
            b'"values":{"type":"string","optional":false},"optional":false},"payload":[[1,"a"]]}',
        ),
        (
            struct_schema([("id", INT32_SCHEMA)], name="S", version=2, doc="d", parameters={"p": "v"}),
            None,
            None,
        ),
        (
            decimal_schema(2),
            D("1.56"),
            b'{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal",'
            b'"parameters":{"scale":"2"}},"payload":"AJw="}',
        ),
        (
            TIMESTAMP_SCHEMA,
            dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
            b'{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp",'
            b'"version":1},"payload":1000}',
        ),
    ],
)
def test_writes_connects_exact_envelope(schema, value, data):
    if data is None:  # struct with every schema attribute
        schema_struct = Struct(schema, {"id": 7})
        assert WITH.from_connect("t", schema, schema_struct) == (
            b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],'
            b'"optional":false,"name":"S","version":2,"doc":"d","parameters":{"p":"v"}},"payload":{"id":7}}'
        )
        return
    assert WITH.from_connect("t", schema, value) == data


def test_numeric_decimal_format_writes_the_exact_digits():
    data = NUMERIC.from_connect("t", decimal_schema(9), D("12345678901234567890.123456789"))
    assert data.endswith(b'"payload":12345678901234567890.123456789}')
    assert NUMERIC.from_connect("t", decimal_schema(2), D("-0.5")).endswith(b'"payload":-0.50}')


@pytest.mark.parametrize(
    "data, expected",
    [
        # Written by Kafka Connect's JsonConverter (its unit tests' payloads).
        (b'{ "schema": { "type": "boolean" }, "payload": true }', SchemaAndValue(BOOLEAN_SCHEMA, True)),
        (b'{ "schema": { "type": "int8" }, "payload": 12 }', SchemaAndValue(INT8_SCHEMA, 12)),
        (b'{ "schema": { "type": "int64" }, "payload": 4398046511104 }', SchemaAndValue(INT64_SCHEMA, 4398046511104)),
        (b'{ "schema": { "type": "float" }, "payload": 12.34 }', SchemaAndValue(FLOAT32_SCHEMA, 12.34)),
        (b'{ "schema": { "type": "double" }, "payload": 12.34 }', SchemaAndValue(FLOAT64_SCHEMA, 12.34)),
        (b'{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }', SchemaAndValue(STRING_SCHEMA, "foo-bar-baz")),
        (
            b'{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }',
            SchemaAndValue(BYTES_SCHEMA, b"test-string"),
        ),
        (
            b'{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, '
            b'"parameters": { "scale": "2" } }, "payload": "AJw=" }',
            SchemaAndValue(
                Schema(Type.BYTES, name="org.apache.kafka.connect.data.Decimal", version=1, parameters={"scale": "2"}),
                D("1.56"),
            ),
        ),
        (
            b'{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, '
            b'"parameters": { "scale": "2" } }, "payload": 1.56 }',
            SchemaAndValue(
                Schema(Type.BYTES, name="org.apache.kafka.connect.data.Decimal", version=1, parameters={"scale": "2"}),
                D("1.56"),
            ),
        ),
        (
            b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, '
            b'"payload": 10000 }',
            SchemaAndValue(DATE_SCHEMA, dt.date(1997, 5, 19)),
        ),
        (
            b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, '
            b'"payload": 14400000 }',
            SchemaAndValue(TIME_SCHEMA, dt.time(4)),
        ),
        (
            b'{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, '
            b'"payload": 4000000000 }',
            SchemaAndValue(TIMESTAMP_SCHEMA, dt.datetime(1970, 2, 16, 7, 6, 40, tzinfo=UTC)),
        ),
        (
            b'{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, '
            b'"payload": [ [1, 12], [2, 15] ] }',
            SchemaAndValue(map_schema(INT32_SCHEMA, INT32_SCHEMA), {1: 12, 2: 15}),
        ),
        (b'{ "schema": null, "payload": {"a": [1, 2.5]} }', SchemaAndValue(None, {"a": [1, 2.5]})),
        (b'{ "schema": null, "payload": null }', SchemaAndValue(None, None)),
    ],
)
def test_reads_connects_envelopes(data, expected):
    assert WITH.to_connect("t", data) == expected


def test_numeric_decimals_are_read_exactly_beyond_double_precision():
    data = (
        b'{"schema":{"type":"struct","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal",'
        b'"parameters":{"scale":"9"},"field":"amount"},{"type":"double","field":"ratio"}]},'
        b'"payload":{"amount":12345678901234567890.123456789,"ratio":0.1}}'
    )
    for _ in range(2):  # the second read goes through the remembered-schema fast path
        value = WITH.to_connect("t", data).value
        assert value.get("amount") == D("12345678901234567890.123456789")
        assert value.get("ratio") == 0.1 and type(value.get("ratio")) is float


def test_numeric_decimals_are_read_exactly_from_utf16_json_too():
    data = (
        '{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"20"}},'
        '"payload":0.12345678901234567890}'.encode("utf-16")
    )
    assert WITH.to_connect("t", data).value == D("0.12345678901234567890")


def test_numeric_decimal_with_fewer_digits_takes_the_schema_scale():
    data = b'{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},"payload":12.3}'
    assert str(WITH.to_connect("t", data).value) == "12.30"
    data = data.replace(b"12.3}", b"12}")
    assert str(WITH.to_connect("t", data).value) == "12.00"


def test_integral_floats_are_accepted_for_integers():
    data = b'{"schema":{"type":"int32"},"payload":3.0}'
    assert WITH.to_connect("t", data).value == 3 and type(WITH.to_connect("t", data).value) is int


def test_extra_struct_fields_are_ignored_and_missing_optional_ones_are_null():
    data = b'{"schema":{"type":"struct","fields":[{"type":"int32","optional":true,"field":"a"}]},"payload":{"zzz":1}}'
    value = WITH.to_connect("t", data).value
    assert list(value.items()) == [("a", None)]


# ----------------------------------------------------------------------------- defaults


DEFAULTED = struct_schema(
    [("n", Schema(Type.INT32, default=7)), ("s", Schema(Type.STRING, optional=True, default="x"))], name="D"
)


def test_null_fields_take_their_default_when_replace_null_with_default():
    data = (
        b'{"schema":{"type":"struct","fields":[{"type":"int32","default":7,"field":"n"},'
        b'{"type":"string","optional":true,"default":"x","field":"s"}],"name":"D"},"payload":{"n":null}}'
    )
    result = WITH.to_connect("t", data)
    assert result.schema == DEFAULTED
    assert result.value.raw_values() == (7, "x")


def test_without_replace_null_with_default_optional_nulls_stay_null_and_required_ones_fail():
    converter = json_converter(**{"replace.null.with.default": False})
    data = (
        b'{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"x","field":"s"}]},'
        b'"payload":{"s":null}}'
    )
    assert converter.to_connect("t", data).value.raw_values() == (None,)
    required = b'{"schema":{"type":"int32","default":7},"payload":null}'
    with pytest.raises(ConversionError, match="payload: null value for required int32"):
        converter.to_connect("t", required)
    assert WITH.to_connect("t", required).value == 7


def test_writing_null_uses_the_default_or_null_per_option():
    schema = Schema(Type.INT32, optional=True, default=7)
    assert WITH.from_connect("t", schema, None).endswith(b'"payload":7}')
    keep_null = json_converter(**{"replace.null.with.default": False})
    assert keep_null.from_connect("t", schema, None).endswith(b'"payload":null}')
    assert WITH.from_connect("t", schema, None).startswith(b'{"schema":{"type":"int32","optional":true,"default":7}')


def test_struct_default_round_trips():
    base = struct_schema([("a", INT32_SCHEMA)], name="P")
    import dataclasses

    schema = dataclasses.replace(base, optional=True, default=Struct(base, {"a": 1}))
    data = WITH.from_connect("t", schema, None)
    assert b'"default":{"a":1}' in data
    result = WITH.to_connect("t", data)
    # The default read back carries the schema being built (optional, no default yet), as with
    # Connect's SchemaBuilder; its values are what counts.
    assert list(result.schema.default.items()) == [("a", 1)] and result.value.get("a") == 1


# ----------------------------------------------------------------------------- caching


def test_schema_is_parsed_once_and_shared_between_records():
    converter = json_converter()
    first = converter.to_connect("t", WITH.from_connect("t", PERSON, ADA))
    second = converter.to_connect("t", WITH.from_connect("t", PERSON, ADA))
    assert first.schema is second.schema and first.value == second.value == ADA


@pytest.mark.parametrize("cache_size", [0, 1, 1000])
def test_many_alternating_schemas_are_all_read_right(cache_size):
    converter = json_converter(**{"schemas.cache.size": cache_size})
    schemas = [struct_schema([(f"f{i}", INT32_SCHEMA)], name=f"S{i}") for i in range(7)]
    for round_ in range(3):
        for i, schema in enumerate(schemas):
            value = Struct(schema, {f"f{i}": round_})
            assert converter.to_connect("t", converter.from_connect("t", schema, value)) == SchemaAndValue(
                schema, value
            )


def test_fast_path_is_not_fooled_by_a_payload_that_does_not_close_the_envelope():
    converter = json_converter()
    good = converter.from_connect("t", INT32_SCHEMA, 1)
    converter.to_connect("t", good)  # remembers the prefix
    bad = good[:-1] + b',"extra":1}'
    with pytest.raises(
        ConversionError,
        match="expects an object with 'schema' and 'payload' fields; got an object with fields 'schema', 'payload', 'extra'",
    ):
        converter.to_connect("t", bad)
    assert converter.to_connect("t", good[:-1] + b" }").value == 1


def test_fast_path_errors_name_the_location():
    converter = json_converter()
    converter.to_connect("t", converter.from_connect("t", PERSON, ADA))
    data = converter.from_connect("t", PERSON, ADA).replace(b'"city":"London"', b'"city":5')
    with pytest.raises(ConversionError) as caught:
        converter.to_connect("t", data)
    assert str(caught.value) == "JsonConverter (value): payload.address.city: expected a string, got the number 5"


# ----------------------------------------------------------------------------- errors reading


ENVELOPE_ERRORS = [
    (b"[1, 2]", "expects an object with 'schema' and 'payload' fields; got a JSON array"),
    (b'"text"', "got the string 'text'"),
    (b"42", "got the number 42"),
    (b"null", "got null"),
    (b"{}", "got an empty object"),
    (b'{"payload": 1}', "got an object with fields 'payload'"),
    (b'{"schema": null, "payload": 1, "x": 2}', "got an object with fields 'schema', 'payload', 'x'"),
    (b'{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6}', "fields 'a', 'b', 'c', 'd', 'e', ..."),
    (b"", "empty message; JsonConverter with schemas.enable=true expects"),
]


@pytest.mark.parametrize("data, message", ENVELOPE_ERRORS)
def test_envelope_errors_say_what_was_found_and_hint_at_plain_json(data, message):
    with pytest.raises(ConversionError) as caught:
        WITH.to_connect("t", data)
    assert message in str(caught.value)
    assert "set value.converter.schemas.enable=false for plain JSON" in str(caught.value)


def test_key_converter_hint_names_the_key_setting():
    with pytest.raises(ConversionError, match=r"^JsonConverter \(key\): .*set key.converter.schemas.enable=false"):
        json_converter(is_key=True).to_connect("t", b"[]")


@pytest.mark.parametrize(
    "data, message",
    [
        (b'{"a": 1', "not valid JSON at line 1 column 8: Expecting ',' delimiter; input b'{\"a\": 1'"),
        (b'{\n"a" 1}', "not valid JSON at line 2 column 5: Expecting ':' delimiter"),
        (b"nope", "not valid JSON at line 1 column 1: Expecting value"),
        (b"[1] [2]", "not valid JSON at line 1 column 5: Extra data"),
        (b'"\xff"', "not valid UTF-8 at byte 1: invalid start byte"),
        (b"[" * 100_000 + b"]" * 100_000, "the JSON is nested too deeply"),
    ],
)
@pytest.mark.parametrize("converter", [WITH, WITHOUT], ids=["envelope", "plain"])
def test_malformed_json_is_located(converter, data, message):
    with pytest.raises(ConversionError) as caught:
        converter.to_connect("t", data)
    assert message in str(caught.value)
    assert len(str(caught.value)) < 300


def test_messages_quote_at_most_a_short_excerpt_of_the_payload():
    data = b'{"secret": "' + b"s" * 10_000 + b'"'
    with pytest.raises(ConversionError) as caught:
        WITHOUT.to_connect("t", data)
    message = str(caught.value)
    assert message.count("s" * 10) <= 6 and "(10013 bytes)" in message and len(message) < 250
    assert "column 10014: Expecting ',' delimiter; near 'sssss" in message


@pytest.mark.parametrize(
    "schema",
    ['{"type": "int8"}', '{"type": "int32", "name": "org.apache.kafka.connect.data.Date"}', '{"type": "double"}'],
)
def test_huge_numbers_are_quoted_briefly(schema):
    data = envelope(schema, "1" * 4000 if "float" not in schema else '"' + "1" * 4000 + '"')
    with pytest.raises(ConversionError) as caught:
        WITH.to_connect("t", data)
    assert len(str(caught.value)) < 200


def test_parse_errors_far_into_a_message_quote_the_text_around_them():
    data = b'{"items": [' + b"1, " * 100 + b"oops]}"
    with pytest.raises(ConversionError) as caught:
        WITHOUT.to_connect("t", data)
    assert str(caught.value) == (
        "JsonConverter (value): not valid JSON at line 1 column 312: Expecting value; "
        "near ' 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, oops]}' (317 bytes)"
    )


def envelope(schema: str, payload: str) -> bytes:
    return f'{{"schema": {schema}, "payload": {payload}}}'.encode()


SCHEMA_ERRORS = [
    ('{"optional": true}', "schema: a schema must contain a 'type' field with a type name, got null"),
    ('{"type": 5}', "schema: a schema must contain a 'type' field with a type name, got the number 5"),
    ('{"type": "integer"}', "schema: unknown schema type 'integer'; expected one of int8, int16, int32, int64"),
    ('"int32"', "schema: a schema must be a JSON object or null, got the string 'int32'"),
    ('{"type": "array"}', "schema: an array schema needs the schema of its elements ('items')"),
    ('{"type": "array", "items": {"type": "nope"}}', "schema.items: unknown schema type 'nope'"),
    ('{"type": "map", "values": {"type": "int32"}}', "schema: a map schema needs the schema of its keys ('keys')"),
    ('{"type": "map", "keys": {"type": "int32"}}', "schema: a map schema needs the schema of its values ('values')"),
    ('{"type": "struct"}', "schema: a struct schema's 'fields' must be a JSON array, got null"),
    (
        '{"type": "struct", "fields": [{"type": "int32"}]}',
        "schema.fields[0]: a struct field must be a schema object with a 'field' name",
    ),
    (
        '{"type": "struct", "fields": [{"type": "int32", "field": "a"}, {"type": "int8", "field": "a"}]}',
        "schema.fields[1]: struct field name 'a' is used twice",
    ),
    (
        '{"type": "struct", "fields": [{"type": "struct", "field": "in", "fields": [{"type": "x", "field": "b"}]}]}',
        "schema.fields[0].fields[0]: unknown schema type 'x'",
    ),
    (
        '{"type": "int32", "parameters": {"a": 1}}',
        "schema: schema parameters must have string values; 'a' is the number 1",
    ),
    ('{"type": "int32", "default": "seven"}', "schema.default: expected an integer for int32, got the string 'seven'"),
    (
        '{"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal"}',
        "schema: a Decimal schema needs an integer 'scale' parameter",
    ),
    (
        '{"type": "string", "name": "org.apache.kafka.connect.data.Date"}',
        "schema: logical type org.apache.kafka.connect.data.Date must have type int32",
    ),
]


@pytest.mark.parametrize("schema, message", SCHEMA_ERRORS)
def test_schema_errors_are_located(schema, message):
    with pytest.raises(ConversionError) as caught:
        WITH.to_connect("t", envelope(schema, "null"))
    assert str(caught.value).startswith(f"JsonConverter (value): {message}")


PAYLOAD_ERRORS = [
    ('{"type": "int8"}', "128", "payload: 128 is out of range for int8 (-128..127)"),
    ('{"type": "int16"}', "-32769", "payload: -32769 is out of range for int16"),
    ('{"type": "int32"}', "1.5", "payload: expected an integer for int32, got the number 1.5"),
    ('{"type": "int64"}', '"12"', "payload: expected an integer for int64, got the string '12'"),
    ('{"type": "int64"}', "true", "payload: expected an integer for int64, got true"),
    ('{"type": "double"}', '"1.5"', "payload: expected a number for float64, got the string '1.5'"),
    ('{"type": "float"}', "false", "payload: expected a number for float32, got false"),
    # Connect reads "NaN" in a string as 0.0 for a float field; a string is not a number.
    ('{"type": "double"}', '"NaN"', "payload: expected a number for float64, got the string 'NaN'"),
    ('{"type": "boolean"}', "1", "payload: expected true or false for boolean, got the number 1"),
    ('{"type": "string"}', "{}", "payload: expected a string, got a JSON object"),
    ('{"type": "bytes"}', '"not base64!"', "payload: bytes must be base64 text"),
    ('{"type": "bytes"}', "[1]", "payload: expected base64 text for bytes, got a JSON array"),
    ('{"type": "int32"}', "null", "payload: null value for required int32"),
    (
        '{"type": "array", "items": {"type": "int32"}}',
        "{}",
        "payload: expected a JSON array for array<int32>, got a JSON object",
    ),
    ('{"type": "array", "items": {"type": "int32"}}', '[1, 2, "x"]', "payload[2]: expected an integer for int32"),
    (
        '{"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}}',
        "[]",
        "payload: maps with string keys are JSON objects, got a JSON array",
    ),
    (
        '{"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}}',
        '{"k": "v"}',
        "payload['k']: expected an integer for int32",
    ),
    (
        '{"type": "map", "keys": {"type": "int32"}, "values": {"type": "int32"}}',
        "{}",
        "payload: maps with int32 keys are JSON arrays of [key, value] pairs, got a JSON object",
    ),
    (
        '{"type": "map", "keys": {"type": "int32"}, "values": {"type": "int32"}}',
        "[[1, 2, 3]]",
        "payload[0]: a map entry must be a [key, value] pair, got a JSON array",
    ),
    (
        '{"type": "map", "keys": {"type": "int32"}, "values": {"type": "int32"}}',
        '[[1, 2], ["k", 3]]',
        "payload[1]: expected an integer for int32, got the string 'k'",
    ),
    (
        '{"type": "map", "keys": {"type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}}, "values": {"type": "int32"}}',
        '[[{"a": 1}, 2]]',
        "payload[0]: a map key of map<string, int32> cannot be a Python dict key (unhashable)",
    ),
    (
        '{"type": "struct", "fields": [{"type": "int32", "field": "age"}]}',
        "{}",
        "payload: struct field 'age' is required but missing",
    ),
    (
        '{"type": "struct", "fields": [{"type": "int32", "field": "age"}]}',
        '{"age": null}',
        "payload: struct field 'age' is required but null",
    ),
    (
        '{"type": "struct", "fields": [{"type": "int32", "field": "age"}]}',
        "[]",
        "payload: expected a JSON object for struct, got a JSON array",
    ),
    (
        '{"type": "struct", "fields": [{"type": "array", "field": "people", "items": {"type": "struct", "fields": [{"type": "int32", "field": "age"}]}}]}',
        '{"people": [{"age": 1}, {"age": "x"}]}',
        "payload.people[1].age: expected an integer for int32, got the string 'x'",
    ),
    (
        '{"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}}',
        "1.234",
        "payload: decimal 1.234 has more than 2 digits after the point",
    ),
    (
        '{"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}}',
        "true",
        "payload: expected a number or base64 bytes for Decimal(scale=2), got true",
    ),
    (
        '{"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "parameters": {"scale": "2"}}',
        '""',
        "payload: Decimal bytes are empty",
    ),
    (
        '{"type": "int32", "name": "org.apache.kafka.connect.data.Date"}',
        "3000000",
        "payload: Date 3000000 days from 1970-01-01 is outside years 1..9999",
    ),
    (
        '{"type": "int32", "name": "org.apache.kafka.connect.data.Date"}',
        '"2024-01-01"',
        "payload: expected an integer for Date (days since 1970-01-01), got the string '2024-01-01'",
    ),
    (
        '{"type": "int32", "name": "org.apache.kafka.connect.data.Time"}',
        "86400000",
        "payload: Time must be 0 <= milliseconds of the day < 86400000",
    ),
    (
        '{"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"}',
        "1e30",
        "payload: expected an integer for Timestamp (milliseconds since the epoch), got the number 1e+30",
    ),
    (
        # As Connect (isInt): the logical types' integers must be JSON integers.
        '{"type": "int32", "name": "org.apache.kafka.connect.data.Date"}',
        "1.0",
        "payload: expected an integer for Date (days since 1970-01-01), got the number 1.0",
    ),
    (
        '{"type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"}',
        "253402300800000",
        "payload: Timestamp 253402300800000 ms since the epoch is outside years 1..9999",
    ),
]


@pytest.mark.parametrize("schema, payload, message", PAYLOAD_ERRORS)
def test_payload_errors_are_located(schema, payload, message):
    with pytest.raises(ConversionError) as caught:
        WITH.to_connect("t", envelope(schema, payload))
    assert str(caught.value).startswith(f"JsonConverter (value): {message}")


# ----------------------------------------------------------------------------- errors writing


WRITE_ERRORS = [
    (INT32_SCHEMA, "1", "payload: expected an integer for int32, got str '1'"),
    (INT8_SCHEMA, 1000, "payload: 1000 is out of range for int8"),
    (INT32_SCHEMA, True, "payload: expected an integer for int32, got bool True"),
    (FLOAT64_SCHEMA, "x", "payload: expected a float for float64"),
    (
        FLOAT64_SCHEMA,
        10**400,
        "payload: 1000000000000000000000000000000000000... (401 characters) is too large for float64",
    ),
    (BOOLEAN_SCHEMA, 0, "payload: expected a bool for boolean"),
    (STRING_SCHEMA, 5, "payload: expected a str for string, got int 5"),
    (BYTES_SCHEMA, "x", "payload: expected bytes, got str 'x'"),
    (STRING_SCHEMA, None, "payload: null value for required string with no default"),
    (array_schema(INT32_SCHEMA), [1, "2"], "payload[1]: expected an integer for int32"),
    (array_schema(INT32_SCHEMA), "12", "payload: expected a list for array<int32>"),
    (map_schema(STRING_SCHEMA, INT32_SCHEMA), {"a": "b"}, "payload['a']: expected an integer"),
    (map_schema(STRING_SCHEMA, INT32_SCHEMA), {1: 1}, "payload[1]: expected a str for string, got int 1"),
    (map_schema(STRING_SCHEMA, INT32_SCHEMA), [("a", 1)], "payload: expected a mapping for map<string, int32>"),
    (PERSON, {"id": 1}, "payload: expected a Struct for struct 'com.example.Person', got dict"),
    (PERSON, Struct(ADDRESS, {"city": "x"}), "payload: the struct's schema does not match struct 'com.example.Person'"),
    (PERSON, Struct(PERSON, {"id": 1}), "payload.name: null value for required string with no default"),
    (decimal_schema(2), 1.5, "payload: expected a decimal.Decimal for Decimal(scale=2), got float 1.5"),
    (decimal_schema(2), D("0.001"), "payload: decimal 0.001 has more than 2 digits after the point"),
    (decimal_schema(2), D("NaN"), "payload: a Decimal value must be finite"),
    (DATE_SCHEMA, dt.datetime(2024, 1, 1), "payload: a Date value must be a datetime.date, got datetime"),
    (TIME_SCHEMA, dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=1))), "payload: a Time value must be in UTC"),
    (
        TIMESTAMP_SCHEMA,
        dt.datetime(2024, 1, 1),
        "payload: a Timestamp value must be timezone-aware (naive datetime 2024-01-01T00:00:00)",
    ),
    (TIMESTAMP_SCHEMA, 0, "payload: a Timestamp value must be a datetime.datetime, got int 0"),
]


@pytest.mark.parametrize("schema, value, message", WRITE_ERRORS)
def test_write_errors_are_located(schema, value, message):
    with pytest.raises(ConversionError) as caught:
        WITH.from_connect("t", schema, value)
    assert str(caught.value).startswith(f"JsonConverter (value): {message}")


@pytest.mark.parametrize(
    "value, message",
    [
        (dt.date(2024, 1, 1), "date datetime.date(2024, 1, 1) needs a Date, Time or Timestamp schema"),
        (object(), "cannot write object <object object at"),
        ({"a": [1, {2, 3}]}, "['a'][1]: cannot write set {2, 3} as JSON without a schema"),
        # As Connect (decimalToJsonWithoutSchema): only a Decimal schema says how to write a decimal.
        (D("12.30"), "cannot write decimal 12.30 without a schema: a decimal.Decimal needs a Decimal schema"),
        ({"a": [D("1")]}, "['a'][0]: cannot write decimal 1 without a schema"),
        (D("Infinity"), "cannot write decimal Infinity without a schema"),
        ("\ud800", "not valid in UTF-8 (a lone surrogate)"),
    ],
)
def test_schemaless_write_errors(value, message):
    with pytest.raises(ConversionError) as caught:
        WITHOUT.from_connect("t", None, value)
    assert message in str(caught.value)


def test_writing_a_deeply_nested_value_is_an_error_not_a_crash():
    value: list = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(ConversionError, match="nested too deeply"):
        WITHOUT.from_connect("t", None, value)


def test_struct_fields_are_written_in_schema_order():
    data = WITH.from_connect("t", PERSON, ADA)
    payload = json.loads(data)["payload"]
    assert list(payload) == ["id", "name", "score", "address", "tags", "balance", "born"]
    assert payload["balance"] == base64.b64encode((123450).to_bytes(3, "big", signed=True)).decode()
    assert payload["born"] == (dt.date(1815, 12, 10) - dt.date(1970, 1, 1)).days
