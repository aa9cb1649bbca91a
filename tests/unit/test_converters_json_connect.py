"""JsonConverter held to Kafka Connect's own expectations.

The cases and expected results are those of Apache Kafka's ``JsonConverterTest`` and
``JsonConverterConfigTest`` (``connect/json/src/test/java/org/apache/kafka/connect/json/`` in
apache/kafka, read at commit 1eb7644349c), ported as data: facts, not code. Each case is named
after the Java test it comes from, with a suffix where one Java test checks several inputs.
Every Java test is accounted for in :data:`JAVA_TESTS`: ported here, or not applicable with the
reason.

Java values map to Python as streamapp's data model maps them: byte/short/int/long -> ``int``,
float/double -> ``float``, ``byte[]`` -> ``bytes``, ``BigDecimal`` -> ``decimal.Decimal``,
``java.util.Date`` -> ``date``/``time``/aware ``datetime`` per logical type. Connect's
``Decimal.schema(scale)`` has version 1, so its counterpart here is ``decimal_schema(scale, version=1)``.

The last section holds facts read from the converter's sources (``JsonSchema``,
``JsonDeserializer``) and checked against the real converter (connect-json 4.4.0): the names of
the floating-point types, the leading zeros Jackson is told to accept, NaN and infinities.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import json
import math
from typing import Any

import pydantic
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
    OPTIONAL_DATE_SCHEMA,
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

D = decimal.Decimal
UTC = dt.UTC
NULL = SchemaAndValue(None, None)


def converter(options: dict[str, Any] | None = None, *, is_key: bool = False) -> JsonConverter:
    return JsonConverter(JsonConverterOptions.model_validate(options or {}), is_key=is_key)


def connect_decimal(scale: int, **attributes: Any) -> Schema:
    """Connect's ``Decimal.schema(scale)`` / ``Decimal.builder(scale)``: version 1."""
    return decimal_schema(scale, version=1, **attributes)


def with_default(schema: Schema, default: Any) -> Schema:
    return dataclasses.replace(schema, default=default)


DECIMAL_2 = '"type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1'
STRING_WITH_DEFAULT = Schema(Type.STRING, optional=True, default="default")
STRUCT_WITH_DEFAULT_FIELD = struct_schema([("field1", STRING_WITH_DEFAULT)])

# --------------------------------------------------------------------------------------------
# toConnectData: (case, converter options, is_key, message bytes, expected schema and value)

TO_CONNECT = [
    (
        "testConnectSchemaMetadataTranslation-1",
        {},
        False,
        b'{ "schema": { "type": "boolean" }, "payload": true }',
        SchemaAndValue(BOOLEAN_SCHEMA, True),
    ),
    (
        "testConnectSchemaMetadataTranslation-2",
        {},
        False,
        b'{ "schema": { "type": "boolean", "optional": true }, "payload": null }',
        SchemaAndValue(OPTIONAL_BOOLEAN_SCHEMA, None),
    ),
    (
        "testConnectSchemaMetadataTranslation-3",
        {},
        False,
        b'{ "schema": { "type": "boolean", "default": true }, "payload": null }',
        SchemaAndValue(Schema(Type.BOOLEAN, default=True), True),
    ),
    (
        "testConnectSchemaMetadataTranslation-4",
        {},
        False,
        b'{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, '
        b'"doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }',
        SchemaAndValue(
            Schema(Type.BOOLEAN, name="bool", version=2, doc="the documentation", parameters={"foo": "bar"}), True
        ),
    ),
    (
        "booleanToConnect-true",
        {},
        False,
        b'{ "schema": { "type": "boolean" }, "payload": true }',
        SchemaAndValue(BOOLEAN_SCHEMA, True),
    ),
    (
        "booleanToConnect-false",
        {},
        False,
        b'{ "schema": { "type": "boolean" }, "payload": false }',
        SchemaAndValue(BOOLEAN_SCHEMA, False),
    ),
    ("byteToConnect", {}, False, b'{ "schema": { "type": "int8" }, "payload": 12 }', SchemaAndValue(INT8_SCHEMA, 12)),
    (
        "shortToConnect",
        {},
        False,
        b'{ "schema": { "type": "int16" }, "payload": 12 }',
        SchemaAndValue(INT16_SCHEMA, 12),
    ),
    ("intToConnect", {}, False, b'{ "schema": { "type": "int32" }, "payload": 12 }', SchemaAndValue(INT32_SCHEMA, 12)),
    (
        "longToConnect-12",
        {},
        False,
        b'{ "schema": { "type": "int64" }, "payload": 12 }',
        SchemaAndValue(INT64_SCHEMA, 12),
    ),
    (
        "longToConnect-4398046511104",
        {},
        False,
        b'{ "schema": { "type": "int64" }, "payload": 4398046511104 }',
        SchemaAndValue(INT64_SCHEMA, 4398046511104),
    ),
    (
        "numberWithLeadingZerosToConnect-int8",
        {},
        False,
        b'{ "schema": { "type": "int8" }, "payload": 0012 }',
        SchemaAndValue(INT8_SCHEMA, 12),
    ),
    (
        "numberWithLeadingZerosToConnect-int16",
        {},
        False,
        b'{ "schema": { "type": "int16" }, "payload": 000123 }',
        SchemaAndValue(INT16_SCHEMA, 123),
    ),
    (
        "numberWithLeadingZerosToConnect-int32",
        {},
        False,
        b'{ "schema": { "type": "int32" }, "payload": 000012345 }',
        SchemaAndValue(INT32_SCHEMA, 12345),
    ),
    (
        "numberWithLeadingZerosToConnect-int64",
        {},
        False,
        b'{ "schema": { "type": "int64" }, "payload": 00000123456789 }',
        SchemaAndValue(INT64_SCHEMA, 123456789),
    ),
    # Connect expects the Java float 12.34f; Python has no float32, so the value keeps double
    # precision (12.34 exactly as written), which also writes back as 12.34.
    (
        "floatToConnect",
        {},
        False,
        b'{ "schema": { "type": "float" }, "payload": 12.34 }',
        SchemaAndValue(FLOAT32_SCHEMA, 12.34),
    ),
    (
        "doubleToConnect",
        {},
        False,
        b'{ "schema": { "type": "double" }, "payload": 12.34 }',
        SchemaAndValue(FLOAT64_SCHEMA, 12.34),
    ),
    (
        "bytesToConnect",
        {},
        False,
        b'{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }',
        SchemaAndValue(BYTES_SCHEMA, b"test-string"),
    ),
    (
        "stringToConnect",
        {},
        False,
        b'{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }',
        SchemaAndValue(STRING_SCHEMA, "foo-bar-baz"),
    ),
    (
        "arrayToConnect",
        {},
        False,
        b'{ "schema": { "type": "array", "items": { "type" : "int32" } }, "payload": [1, 2, 3] }',
        SchemaAndValue(array_schema(INT32_SCHEMA), [1, 2, 3]),
    ),
    (
        "mapToConnectStringKeys",
        {},
        False,
        b'{ "schema": { "type": "map", "keys": { "type" : "string" }, "values": { "type" : "int32" } }, '
        b'"payload": { "key1": 12, "key2": 15} }',
        SchemaAndValue(map_schema(STRING_SCHEMA, INT32_SCHEMA), {"key1": 12, "key2": 15}),
    ),
    (
        "mapToConnectNonStringKeys",
        {},
        False,
        b'{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, '
        b'"payload": [ [1, 12], [2, 15] ] }',
        SchemaAndValue(map_schema(INT32_SCHEMA, INT32_SCHEMA), {1: 12, 2: 15}),
    ),
    (
        "structToConnect",
        {},
        False,
        b'{ "schema": { "type": "struct", "fields": [{ "field": "field1", "type": "boolean" }, '
        b'{ "field": "field2", "type": "string" }] }, "payload": { "field1": true, "field2": "string" } }',
        SchemaAndValue(
            struct_schema([("field1", BOOLEAN_SCHEMA), ("field2", STRING_SCHEMA)]),
            Struct(
                struct_schema([("field1", BOOLEAN_SCHEMA), ("field2", STRING_SCHEMA)]),
                {"field1": True, "field2": "string"},
            ),
        ),
    ),
    (
        "structWithOptionalFieldToConnect",
        {},
        False,
        b'{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", "optional": true }, '
        b'{  "field": "required", "type": "string" }] }, "payload": { "required": "required" } }',
        SchemaAndValue(
            struct_schema([("optional", OPTIONAL_STRING_SCHEMA), ("required", STRING_SCHEMA)]),
            Struct(
                struct_schema([("optional", OPTIONAL_STRING_SCHEMA), ("required", STRING_SCHEMA)]),
                {"required": "required"},
            ),
        ),
    ),
    ("nullToConnect", {}, False, None, NULL),
    ("emptyBytesToConnect", {"schemas.enable": False}, True, b"", NULL),
    (
        "schemalessWithEmptyFieldValueToConnect",
        {"schemas.enable": False},
        True,
        b'{ "a": "", "b": null}',
        SchemaAndValue(None, {"a": "", "b": None}),
    ),
    ("nullSchemaPrimitiveToConnect-null", {}, False, b'{ "schema": null, "payload": null }', NULL),
    (
        "nullSchemaPrimitiveToConnect-true",
        {},
        False,
        b'{ "schema": null, "payload": true }',
        SchemaAndValue(None, True),
    ),
    ("nullSchemaPrimitiveToConnect-integer", {}, False, b'{ "schema": null, "payload": 12 }', SchemaAndValue(None, 12)),
    (
        "nullSchemaPrimitiveToConnect-float",
        {},
        False,
        b'{ "schema": null, "payload": 12.24 }',
        SchemaAndValue(None, 12.24),
    ),
    (
        "nullSchemaPrimitiveToConnect-string",
        {},
        False,
        b'{ "schema": null, "payload": "a string" }',
        SchemaAndValue(None, "a string"),
    ),
    (
        "nullSchemaPrimitiveToConnect-array",
        {},
        False,
        b'{ "schema": null, "payload": [1, "2", 3] }',
        SchemaAndValue(None, [1, "2", 3]),
    ),
    (
        "nullSchemaPrimitiveToConnect-object",
        {},
        False,
        b'{ "schema": null, "payload": { "field1": 1, "field2": 2} }',
        SchemaAndValue(None, {"field1": 1, "field2": 2}),
    ),
    (
        "decimalToConnect",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "parameters": { "scale": "2" } }, "payload": "AJw=" }',
        SchemaAndValue(connect_decimal(2), D("1.56")),
    ),
    (
        "decimalToConnectOptional",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "optional": true, "parameters": { "scale": "2" } }, '
        b'"payload": null }',
        SchemaAndValue(connect_decimal(2, optional=True), None),
    ),
    (
        "decimalToConnectWithDefaultValue",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "default": "AJw=", "parameters": { "scale": "2" } }, '
        b'"payload": null }',
        SchemaAndValue(connect_decimal(2, default=D("1.56")), D("1.56")),
    ),
    (
        "decimalToConnectOptionalWithDefaultValue",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "optional": true, "default": "AJw=", '
        b'"parameters": { "scale": "2" } }, "payload": null }',
        SchemaAndValue(connect_decimal(2, optional=True, default=D("1.56")), D("1.56")),
    ),
    (
        "numericDecimalToConnect",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "parameters": { "scale": "2" } }, "payload": 1.56 }',
        SchemaAndValue(connect_decimal(2), D("1.56")),
    ),
    (
        "numericDecimalWithTrailingZerosToConnect",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "parameters": { "scale": "4" } }, "payload": 1.5600 }',
        SchemaAndValue(connect_decimal(4), D("1.5600")),
    ),
    (
        "highPrecisionNumericDecimalToConnect",
        {},
        False,
        b'{ "schema": { ' + DECIMAL_2.encode() + b', "parameters": { "scale": "17" } }, '
        b'"payload": 1.23456789123456789 }',
        SchemaAndValue(connect_decimal(17), D("1.23456789123456789")),
    ),
    (
        "dateToConnect",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, '
        b'"payload": 10000 }',
        SchemaAndValue(DATE_SCHEMA, dt.date(1970, 1, 1) + dt.timedelta(days=10000)),
    ),
    (
        "dateToConnectOptional",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, '
        b'"optional": true }, "payload": null }',
        SchemaAndValue(OPTIONAL_DATE_SCHEMA, None),
    ),
    (
        "dateToConnectWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, '
        b'"default": 0 }, "payload": null }',
        SchemaAndValue(with_default(DATE_SCHEMA, dt.date(1970, 1, 1)), dt.date(1970, 1, 1)),
    ),
    (
        "dateToConnectOptionalWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1, '
        b'"optional": true, "default": 0 }, "payload": null }',
        SchemaAndValue(with_default(OPTIONAL_DATE_SCHEMA, dt.date(1970, 1, 1)), dt.date(1970, 1, 1)),
    ),
    (
        "timeToConnect",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, '
        b'"payload": 14400000 }',
        SchemaAndValue(TIME_SCHEMA, dt.time(4)),
    ),
    (
        "timeToConnectOptional",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1, '
        b'"optional": true }, "payload": null }',
        SchemaAndValue(OPTIONAL_TIME_SCHEMA, None),
    ),
    (
        "timeToConnectWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1, '
        b'"default": 0 }, "payload": null }',
        SchemaAndValue(with_default(TIME_SCHEMA, dt.time(0)), dt.time(0)),
    ),
    (
        "timeToConnectOptionalWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1, '
        b'"optional": true, "default": 0 }, "payload": null }',
        SchemaAndValue(with_default(OPTIONAL_TIME_SCHEMA, dt.time(0)), dt.time(0)),
    ),
    (
        "timestampToConnect",
        {},
        False,
        b'{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, '
        b'"payload": 4000000000 }',
        SchemaAndValue(TIMESTAMP_SCHEMA, dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=4000000000)),
    ),
    (
        "timestampToConnectOptional",
        {},
        False,
        b'{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, '
        b'"optional": true }, "payload": null }',
        SchemaAndValue(OPTIONAL_TIMESTAMP_SCHEMA, None),
    ),
    (
        "timestampToConnectWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, '
        b'"default": 42 }, "payload": null }',
        SchemaAndValue(
            with_default(TIMESTAMP_SCHEMA, dt.datetime(1970, 1, 1, 0, 0, 0, 42000, tzinfo=UTC)),
            dt.datetime(1970, 1, 1, 0, 0, 0, 42000, tzinfo=UTC),
        ),
    ),
    (
        "timestampToConnectOptionalWithDefaultValue",
        {},
        False,
        b'{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1,  '
        b'"optional": true, "default": 42 }, "payload": null }',
        SchemaAndValue(
            with_default(OPTIONAL_TIMESTAMP_SCHEMA, dt.datetime(1970, 1, 1, 0, 0, 0, 42000, tzinfo=UTC)),
            dt.datetime(1970, 1, 1, 0, 0, 0, 42000, tzinfo=UTC),
        ),
    ),
    ("noSchemaToConnect", {"schemas.enable": False}, True, b"true", SchemaAndValue(None, True)),
    (
        "deserializeNullToDefault",
        {"replace.null.with.default": True},
        False,
        b'{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}',
        SchemaAndValue(STRING_WITH_DEFAULT, "default"),
    ),
    (
        "deserializeNullToNull",
        {"replace.null.with.default": False},
        False,
        b'{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}',
        SchemaAndValue(STRING_WITH_DEFAULT, None),
    ),
    (
        "deserializeFieldNullToDefault",
        {"replace.null.with.default": True},
        False,
        b'{"schema":{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],'
        b'"optional":false},"payload":{"field1":null}}',
        SchemaAndValue(STRUCT_WITH_DEFAULT_FIELD, Struct(STRUCT_WITH_DEFAULT_FIELD, {"field1": "default"})),
    ),
    (
        "deserializeFieldNullToNull",
        {"replace.null.with.default": False},
        False,
        b'{"schema":{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],'
        b'"optional":false},"payload":{"field1":null}}',
        SchemaAndValue(STRUCT_WITH_DEFAULT_FIELD, Struct(STRUCT_WITH_DEFAULT_FIELD)),
    ),
]


@pytest.mark.parametrize(
    "options, is_key, data, expected", [case[1:] for case in TO_CONNECT], ids=[case[0] for case in TO_CONNECT]
)
def test_to_connect_as_connect(options, is_key, data, expected):
    result = converter(options, is_key=is_key).to_connect("topic", data)
    assert result == expected
    if isinstance(expected.value, (int, float)) and not isinstance(expected.value, bool):
        assert type(result.value) is type(expected.value)  # 12 stays an integer, 12.24 a float


def test_structWithOptionalFieldToConnect_leaves_the_missing_optional_field_null():
    value = converter().to_connect("topic", dict(TO_CONNECT_DATA)["structWithOptionalFieldToConnect"]).value
    assert value.get_without_default("optional") is None and value.get("required") == "required"


TO_CONNECT_DATA = [(case[0], case[3]) for case in TO_CONNECT]

# --------------------------------------------------------------------------------------------
# fromConnectData: (case, converter options, schema, value, expected JSON schema, expected payload).
# Like the Java tests, the written schema is compared as parsed JSON (key order and spacing do not
# matter) and the message must be an envelope of exactly "schema" and "payload".

PERSON_LIKE = struct_schema(
    [("field1", BOOLEAN_SCHEMA), ("field2", STRING_SCHEMA), ("field3", STRING_SCHEMA), ("field4", BOOLEAN_SCHEMA)]
)

FROM_CONNECT = [
    ("testJsonSchemaMetadataTranslation-1", {}, BOOLEAN_SCHEMA, True, '{ "type": "boolean", "optional": false }', True),
    (
        "testJsonSchemaMetadataTranslation-2",
        {},
        OPTIONAL_BOOLEAN_SCHEMA,
        None,
        '{ "type": "boolean", "optional": true }',
        None,
    ),
    (
        "testJsonSchemaMetadataTranslation-3",
        {},
        Schema(Type.BOOLEAN, default=True),
        True,
        '{ "type": "boolean", "optional": false, "default": true }',
        True,
    ),
    (
        "testJsonSchemaMetadataTranslation-4",
        {},
        Schema(Type.BOOLEAN, name="bool", version=3, doc="the documentation", parameters={"foo": "bar"}),
        True,
        '{ "type": "boolean", "optional": false, "name": "bool", "version": 3, "doc": "the documentation", '
        '"parameters": { "foo": "bar" }}',
        True,
    ),
    ("booleanToJson", {}, BOOLEAN_SCHEMA, True, '{ "type": "boolean", "optional": false }', True),
    ("byteToJson", {}, INT8_SCHEMA, 12, '{ "type": "int8", "optional": false }', 12),
    ("shortToJson", {}, INT16_SCHEMA, 12, '{ "type": "int16", "optional": false }', 12),
    ("intToJson", {}, INT32_SCHEMA, 12, '{ "type": "int32", "optional": false }', 12),
    ("longToJson", {}, INT64_SCHEMA, 4398046511104, '{ "type": "int64", "optional": false }', 4398046511104),
    ("floatToJson", {}, FLOAT32_SCHEMA, 12.34, '{ "type": "float", "optional": false }', 12.34),
    ("doubleToJson", {}, FLOAT64_SCHEMA, 12.34, '{ "type": "double", "optional": false }', 12.34),
    (
        "bytesToJson",
        {},
        BYTES_SCHEMA,
        b"test-string",
        '{ "type": "bytes", "optional": false }',
        base64.b64encode(b"test-string").decode(),
    ),
    ("stringToJson", {}, STRING_SCHEMA, "test-string", '{ "type": "string", "optional": false }', "test-string"),
    (
        "arrayToJson",
        {},
        array_schema(INT32_SCHEMA),
        [1, 2, 3],
        '{ "type": "array", "items": { "type": "int32", "optional": false }, "optional": false }',
        [1, 2, 3],
    ),
    (
        "mapToJsonStringKeys",
        {},
        map_schema(STRING_SCHEMA, INT32_SCHEMA),
        {"key1": 12, "key2": 15},
        '{ "type": "map", "keys": { "type" : "string", "optional": false }, '
        '"values": { "type" : "int32", "optional": false }, "optional": false }',
        {"key1": 12, "key2": 15},
    ),
    (
        "mapToJsonNonStringKeys",
        {},
        map_schema(INT32_SCHEMA, INT32_SCHEMA),
        {1: 12, 2: 15},
        '{ "type": "map", "keys": { "type" : "int32", "optional": false }, '
        '"values": { "type" : "int32", "optional": false }, "optional": false }',
        {(1, 12), (2, 15)},
    ),  # a set: Connect checks the pairs in any order
    (
        "structToJson",
        {},
        PERSON_LIKE,
        Struct(PERSON_LIKE, {"field1": True, "field2": "string2", "field3": "string3", "field4": False}),
        '{ "type": "struct", "optional": false, "fields": ['
        '{ "field": "field1", "type": "boolean", "optional": false }, '
        '{ "field": "field2", "type": "string", "optional": false }, '
        '{ "field": "field3", "type": "string", "optional": false }, '
        '{ "field": "field4", "type": "boolean", "optional": false }] }',
        {"field1": True, "field2": "string2", "field3": "string3", "field4": False},
    ),
    (
        "decimalToJson",
        {},
        connect_decimal(2),
        D("1.56"),
        '{ "type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "version": 1, '
        '"parameters": { "scale": "2" } }',
        base64.b64encode(bytes([0, 156])).decode(),
    ),  # the two's complement of 156, as base64 text
    (
        "decimalToNumericJson",
        {"decimal.format": "NUMERIC"},
        connect_decimal(2),
        D("1.56"),
        '{ "type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "version": 1, '
        '"parameters": { "scale": "2" } }',
        D("1.56"),
    ),
    (
        "decimalWithTrailingZerosToNumericJson",
        {"decimal.format": "NUMERIC"},
        connect_decimal(4),
        D("1.5600"),
        '{ "type": "bytes", "optional": false, "name": "org.apache.kafka.connect.data.Decimal", "version": 1, '
        '"parameters": { "scale": "4" } }',
        D("1.5600"),
    ),
    (
        "dateToJson",
        {},
        DATE_SCHEMA,
        dt.date(1970, 1, 1) + dt.timedelta(days=10000),
        '{ "type": "int32", "optional": false, "name": "org.apache.kafka.connect.data.Date", "version": 1 }',
        10000,
    ),
    (
        "timeToJson",
        {},
        TIME_SCHEMA,
        dt.time(4),
        '{ "type": "int32", "optional": false, "name": "org.apache.kafka.connect.data.Time", "version": 1 }',
        14400000,
    ),
    (
        "timestampToJson",
        {},
        TIMESTAMP_SCHEMA,
        dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=4000000000),
        '{ "type": "int64", "optional": false, "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }',
        4000000000,
    ),
    ("nullSchemaAndPrimitiveToJson", {}, None, True, None, True),
    ("nullSchemaAndArrayToJson", {}, None, [1, "string", True], None, [1, "string", True]),
    (
        "nullSchemaAndMapToJson",
        {},
        None,
        {"key1": 12, "key2": "string", "key3": True},
        None,
        {"key1": 12, "key2": "string", "key3": True},
    ),
    (
        "nullSchemaAndMapNonStringKeysToJson",
        {},
        None,
        {"string": 12, 52: "string", False: True},
        None,
        {("string", 12), (52, "string"), (False, True)},
    ),
    (
        "serializeNullToDefault",
        {"replace.null.with.default": True},
        STRING_WITH_DEFAULT,
        None,
        '{"type":"string","optional":true,"default":"default"}',
        "default",
    ),
    (
        "serializeNullToNull",
        {"replace.null.with.default": False},
        STRING_WITH_DEFAULT,
        None,
        '{"type":"string","optional":true,"default":"default"}',
        None,
    ),
    (
        "serializeFieldNullToDefault",
        {"replace.null.with.default": True},
        STRUCT_WITH_DEFAULT_FIELD,
        Struct(STRUCT_WITH_DEFAULT_FIELD),
        '{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],'
        '"optional":false}',
        {"field1": "default"},
    ),
    (
        "serializeFieldNullToNull",
        {"replace.null.with.default": False},
        STRUCT_WITH_DEFAULT_FIELD,
        Struct(STRUCT_WITH_DEFAULT_FIELD),
        '{"type":"struct","fields":[{"field":"field1","type":"string","optional":true,"default":"default"}],'
        '"optional":false}',
        {"field1": None},
    ),
]


def parse(data: bytes) -> Any:
    # As the Java tests parse (USE_BIG_DECIMAL_FOR_FLOATS): non-integral numbers exactly.
    return json.loads(data, parse_float=D)


@pytest.mark.parametrize(
    "options, schema, value, schema_json, payload",
    [case[1:] for case in FROM_CONNECT],
    ids=[case[0] for case in FROM_CONNECT],
)
def test_from_connect_as_connect(options, schema, value, schema_json, payload):
    envelope = parse(converter(options).from_connect("topic", schema, value))
    assert type(envelope) is dict and set(envelope) == {"schema", "payload"}
    assert envelope["schema"] == (None if schema_json is None else parse(schema_json.encode()))
    written = envelope["payload"]
    if isinstance(payload, set):
        assert type(written) is list and {tuple(pair) for pair in written} == payload and len(written) == len(payload)
    elif isinstance(payload, float):
        assert written == D(str(payload))  # Connect allows 0.001 here; the digits are exact
    else:
        assert written == payload and type(written) is type(payload)


@pytest.mark.parametrize("case", ["decimalToNumericJson", "decimalWithTrailingZerosToNumericJson"])
def test_numeric_decimals_are_json_numbers_with_the_scales_digits(case):
    _, options, schema, value, _, payload = next(c for c in FROM_CONNECT if c[0] == case)
    assert converter(options).from_connect("topic", schema, value).endswith(b'"payload":%s}' % str(payload).encode())


def test_structSchemaIdentical():
    # A struct whose schema is equal to, but not the same object as, the one it is written with.
    schema = struct_schema(
        [("field1", BOOLEAN_SCHEMA), ("field2", STRING_SCHEMA), ("field3", STRING_SCHEMA), ("field4", BOOLEAN_SCHEMA)]
    )
    input_schema = struct_schema(
        [("field1", BOOLEAN_SCHEMA), ("field2", STRING_SCHEMA), ("field3", STRING_SCHEMA), ("field4", BOOLEAN_SCHEMA)]
    )
    struct = Struct(input_schema, {"field1": True, "field2": "string2", "field3": "string3", "field4": False})
    converter().from_connect("topic", schema, struct)
    assert struct.schema == schema


def test_decimalToJsonWithoutSchema():
    with pytest.raises(ConversionError, match="needs a Decimal schema"):
        converter().from_connect("topic", None, D("1.56"))


def test_nullSchemaAndNullValueToJson():
    # A tombstone when schemas are enabled.
    assert converter({"schemas.enable": True}, is_key=True).from_connect("topic", None, None) is None


def test_nullValueToJson():
    # A tombstone when schemas are disabled.
    assert converter({"schemas.enable": False}, is_key=True).from_connect("topic", None, None) is None


def test_mismatchSchemaJson():
    with pytest.raises(ConversionError):
        converter().from_connect("topic", FLOAT64_SCHEMA, True)


def test_noSchemaToJson():
    assert json.loads(converter({"schemas.enable": False}, is_key=True).from_connect("topic", None, True)) is True


# --------------------------------------------------------------------------------------------
# Schema caches: Connect's test reads its cache sizes through methods "visible for testing"; the
# counterparts here are the converter's two caches of parsed and written schemas.


def test_testCacheSchemaToConnectConversion():
    json_converter = converter()
    cache = json_converter._to_connect_cache
    assert len(cache) == 0
    json_converter.to_connect("topic", b'{ "schema": { "type": "boolean" }, "payload": true }')
    assert len(cache) == 1
    json_converter.to_connect("topic", b'{ "schema": { "type": "boolean" }, "payload": true }')
    assert len(cache) == 1
    # A different schema is cached too.
    json_converter.to_connect("topic", b'{ "schema": { "type": "boolean", "optional": true }, "payload": true }')
    assert len(cache) == 2
    # An equivalent schema written differently gets its own entry.
    json_converter.to_connect("topic", b'{ "schema": { "type": "boolean", "optional": false }, "payload": true }')
    assert len(cache) == 3


def test_testCacheSchemaToJsonConversion():
    json_converter = converter()
    cache = json_converter._schema_json_cache
    assert len(cache) == 0
    # Equal schemas, even as different objects, share one entry.
    json_converter.from_connect("topic", Schema(Type.BOOLEAN), True)
    assert len(cache) == 1
    json_converter.from_connect("topic", Schema(Type.BOOLEAN), True)
    assert len(cache) == 1
    json_converter.from_connect("topic", Schema(Type.BOOLEAN, optional=True), True)
    assert len(cache) == 2


def test_testJsonSchemaCacheSizeFromConfigFile():
    # Connect's test configures the converter from a worker properties file holding
    # schemas.cache.size=1 (a string, as properties are). With one entry, alternating schemas
    # are parsed again each time and still read correctly.
    json_converter = converter({"schemas.cache.size": "1"})
    messages = [
        (b'{ "schema": { "type": "int32" }, "payload": 1 }', SchemaAndValue(INT32_SCHEMA, 1)),
        (b'{ "schema": { "type": "string" }, "payload": "a" }', SchemaAndValue(STRING_SCHEMA, "a")),
    ]
    for _ in range(3):
        for data, expected in messages:
            assert json_converter.to_connect("topic", data) == expected
            assert len(json_converter._to_connect_cache) <= 1


# --------------------------------------------------------------------------------------------
# JsonConverterConfigTest


def test_shouldBeCaseInsensitiveForDecimalFormatConfig():
    options = JsonConverterOptions.model_validate({"decimal.format": "NuMeRiC"})
    assert options.decimal_format == "NUMERIC"
    written = JsonConverter(options, is_key=True).from_connect("topic", connect_decimal(2), D("1.56"))
    assert written.endswith(b'"payload":1.56}')


def test_decimal_format_accepts_only_connects_two_formats():
    # JsonConverterConfig: "String must be one of (case insensitive): NUMERIC, BASE64".
    with pytest.raises(pydantic.ValidationError, match="decimal.format"):
        JsonConverterOptions.model_validate({"decimal.format": "text"})


def test_options_default_as_connects_config():
    options = JsonConverterOptions()
    assert (
        options.schemas_enable,
        options.schemas_cache_size,
        options.decimal_format,
        options.replace_null_with_default,
    ) == (True, 1000, "BASE64", True)


# --------------------------------------------------------------------------------------------
# Every Java test, and where it is held here.

NOT_APPLICABLE = {
    "testStringHeaderToJson": "streamapp has no HeaderConverter (headers are carried as raw bytes); Connect's "
    "header methods only delegate to fromConnectData, tested above",
    "stringHeaderToConnect": "as testStringHeaderToJson, for toConnectData",
    "testVersionRetrievedFromAppInfoParser": "Connect's Versioned interface has no counterpart",
}
JAVA_TESTS = (
    "testConnectSchemaMetadataTranslation booleanToConnect byteToConnect shortToConnect intToConnect longToConnect "
    "numberWithLeadingZerosToConnect floatToConnect doubleToConnect bytesToConnect stringToConnect arrayToConnect "
    "mapToConnectStringKeys mapToConnectNonStringKeys structToConnect structWithOptionalFieldToConnect nullToConnect "
    "emptyBytesToConnect schemalessWithEmptyFieldValueToConnect nullSchemaPrimitiveToConnect decimalToConnect "
    "decimalToConnectOptional decimalToConnectWithDefaultValue decimalToConnectOptionalWithDefaultValue "
    "numericDecimalToConnect numericDecimalWithTrailingZerosToConnect highPrecisionNumericDecimalToConnect "
    "dateToConnect dateToConnectOptional dateToConnectWithDefaultValue dateToConnectOptionalWithDefaultValue "
    "timeToConnect timeToConnectOptional timeToConnectWithDefaultValue timeToConnectOptionalWithDefaultValue "
    "timestampToConnect timestampToConnectOptional timestampToConnectWithDefaultValue "
    "timestampToConnectOptionalWithDefaultValue testJsonSchemaMetadataTranslation testCacheSchemaToConnectConversion "
    "booleanToJson byteToJson shortToJson intToJson longToJson floatToJson doubleToJson bytesToJson stringToJson "
    "arrayToJson mapToJsonStringKeys mapToJsonNonStringKeys structToJson structSchemaIdentical decimalToJson "
    "decimalToNumericJson decimalWithTrailingZerosToNumericJson decimalToJsonWithoutSchema dateToJson timeToJson "
    "timestampToJson nullSchemaAndPrimitiveToJson nullSchemaAndArrayToJson nullSchemaAndMapToJson "
    "nullSchemaAndMapNonStringKeysToJson nullSchemaAndNullValueToJson nullValueToJson mismatchSchemaJson "
    "noSchemaToConnect noSchemaToJson testCacheSchemaToJsonConversion testJsonSchemaCacheSizeFromConfigFile "
    "testStringHeaderToJson stringHeaderToConnect serializeNullToDefault serializeNullToNull deserializeNullToDefault "
    "deserializeNullToNull serializeFieldNullToDefault serializeFieldNullToNull deserializeFieldNullToDefault "
    "deserializeFieldNullToNull testVersionRetrievedFromAppInfoParser"
).split()


def test_every_java_test_is_ported_or_explained():
    ported = {case[0].split("-")[0] for case in TO_CONNECT + FROM_CONNECT}
    ported |= {name[len("test_") :] for name in globals() if name.startswith("test_")}
    assert len(JAVA_TESTS) == 84
    missing = [name for name in JAVA_TESTS if name not in ported and name not in NOT_APPLICABLE]
    assert missing == []


# --------------------------------------------------------------------------------------------
# Facts from the converter's sources, checked against connect-json 4.4.0.

# JsonSchema: FLOAT32 is "float" and FLOAT64 "double" in the envelope; Connect refuses other names
# ("Unknown schema type: float64"). streamapp also reads the names it wrote before it followed Connect.


@pytest.mark.parametrize(
    "name, schema",
    [("float", FLOAT32_SCHEMA), ("double", FLOAT64_SCHEMA), ("float32", FLOAT32_SCHEMA), ("float64", FLOAT64_SCHEMA)],
)
def test_JsonSchema_float_and_double_names_are_read(name, schema):
    data = b'{"schema":{"type":"%s"},"payload":1.5}' % name.encode()
    assert converter().to_connect("topic", data) == SchemaAndValue(schema, 1.5)


def test_JsonSchema_names_inside_structs_arrays_maps_and_defaults():
    schema = struct_schema(
        [
            ("f", Schema(Type.FLOAT32, optional=True, default=0.5)),
            ("d", array_schema(FLOAT64_SCHEMA)),
            ("m", map_schema(STRING_SCHEMA, Schema(Type.FLOAT32, optional=True))),
        ],
        name="Reading",
    )
    value = Struct(schema, {"f": 1.25, "d": [0.1, 2.0], "m": {"k": None}})
    data = converter().from_connect("topic", schema, value)
    assert json.loads(data)["schema"] == {
        "type": "struct",
        "fields": [
            {"type": "float", "optional": True, "default": 0.5, "field": "f"},
            {"type": "array", "items": {"type": "double", "optional": False}, "optional": False, "field": "d"},
            {
                "type": "map",
                "keys": {"type": "string", "optional": False},
                "values": {"type": "float", "optional": True},
                "optional": False,
                "field": "m",
            },
        ],
        "optional": False,
        "name": "Reading",
    }
    assert converter().to_connect("topic", data) == SchemaAndValue(schema, value)


@pytest.mark.parametrize("name", ["FLOAT", "Double", "float16", "decimal", "number"])
def test_JsonSchema_other_names_are_unknown(name):
    with pytest.raises(ConversionError, match=f"schema: unknown schema type '{name}'"):
        converter().to_connect("topic", b'{"schema":{"type":"%s"},"payload":1}' % name.encode())


# JsonDeserializer: Jackson with ALLOW_LEADING_ZEROS_FOR_NUMBERS (since Kafka 3.6, KAFKA-15012) and
# without ALLOW_NON_NUMERIC_NUMBERS. The values below are what connect-json 4.4.0 returns.

LEADING_ZEROS = [
    (b"0012", 12),
    (b"-007", -7),
    (b"00.5", 0.5),
    (b"-00.5", -0.5),
    (b"000", 0),
    (b"00", 0),
    (b"007e2", 700.0),
    (b"0012.50", 12.5),
    (b"[01, 002]", [1, 2]),
    (b'{"a": 00}', {"a": 0}),
    (b'{"0012": "0012", "b": 0012}', {"0012": "0012", "b": 12}),  # strings are left alone
    (b'["\\"007", 007]', ['"007', 7]),
    (b"1.005", 1.005),  # digits after the point and in an exponent are not leading zeros
    (b"1e-005", 1e-5),
]


@pytest.mark.parametrize("data, value", LEADING_ZEROS, ids=[c[0].decode() for c in LEADING_ZEROS])
def test_JsonDeserializer_reads_numbers_with_leading_zeros(data, value):
    result = converter({"schemas.enable": False}).to_connect("topic", data)
    assert result == SchemaAndValue(None, value)
    assert type(result.value) is type(value)


def test_JsonDeserializer_leading_zeros_in_the_schema_and_in_exact_decimals():
    data = (
        b'{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":01,'
        b'"parameters":{"scale":"2"}},"payload":0012.50}'
    )
    assert converter().to_connect("topic", data) == SchemaAndValue(connect_decimal(2), D("12.50"))


@pytest.mark.parametrize("data", [b"+1", b".5", b"1.", b"0x10", b"[1,]", b"'a'"])
def test_JsonDeserializer_still_refuses_other_non_standard_numbers_and_syntax(data):
    with pytest.raises(ConversionError, match="not valid JSON"):
        converter({"schemas.enable": False}).to_connect("topic", data)


NON_FINITE = [
    (b"NaN", "line 1 column 1: NaN is not a JSON number"),
    (b"-Infinity", "line 1 column 1: -Infinity is not a JSON number"),
    (b'{"a": "NaN", "b": [1, Infinity]}', "line 1 column 23: Infinity is not a JSON number"),
    (b'{"schema": {"type": "double"}, "payload": NaN}', "line 1 column 43: NaN is not a JSON number"),
    (b'{"schema": {"type": "float", "default": Infinity}, "payload": 1}', "column 41: Infinity is not a JSON"),
]


@pytest.mark.parametrize("data, message", NON_FINITE, ids=[c[0].decode() for c in NON_FINITE])
@pytest.mark.parametrize("schemas", [True, False], ids=["envelope", "plain"])
def test_JsonDeserializer_refuses_nan_and_infinities(data, message, schemas):
    with pytest.raises(ConversionError) as caught:
        converter({"schemas.enable": schemas}).to_connect("topic", data)
    assert message in str(caught.value)
    assert "Kafka Connect's JsonConverter refuses it too" in str(caught.value)


def test_numbers_too_large_for_a_double_are_infinite_as_in_connect():
    # Jackson reads 1e400 as a BigDecimal whose doubleValue() is Infinity; so does Python.
    assert converter().to_connect("topic", b'{"schema":{"type":"double"},"payload":1e400}').value == math.inf
