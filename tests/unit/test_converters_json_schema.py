"""The JSON form of Connect schemas in JsonConverter envelopes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal

import pytest

from streamapp.converters.json_schema import schema_from_json, schema_to_json
from streamapp.converters.json_values import JsonValueCodec
from streamapp.data import (
    BYTES_SCHEMA,
    DATE_SCHEMA,
    INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    TIMESTAMP_SCHEMA,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)

CODEC = JsonValueCodec()
UTC = dt.UTC

SCHEMAS = [
    INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    Schema(Type.INT64, name="com.example.Id", version=4, doc="an id", parameters={"a": "b", "c": "d"}),
    Schema(Type.STRING, optional=True, default="n/a"),
    Schema(Type.BYTES, default=b"\x00\x01"),
    decimal_schema(3, optional=True, default=decimal.Decimal("1.500")),
    dataclasses.replace(DATE_SCHEMA, default=dt.date(2000, 1, 1)),
    dataclasses.replace(TIMESTAMP_SCHEMA, default=dt.datetime(2000, 1, 1, tzinfo=UTC)),
    array_schema(array_schema(Schema(Type.FLOAT32, optional=True)), default=[[1.5, None]]),
    map_schema(STRING_SCHEMA, INT32_SCHEMA, default={"a": 1}),
    map_schema(INT32_SCHEMA, BYTES_SCHEMA, optional=True),
    struct_schema(
        [("a", INT32_SCHEMA), ("nested", struct_schema([("b", OPTIONAL_STRING_SCHEMA)], name="In", optional=True))],
        name="Out",
        version=1,
        doc="outer",
    ),
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.label())
def test_schema_json_round_trip(schema):
    assert schema_from_json(schema_to_json(schema, CODEC), CODEC) == schema


def test_keys_come_in_connects_order():
    node = schema_to_json(
        struct_schema([("id", INT32_SCHEMA)], name="S", version=2, doc="d", parameters={"p": "v"}), CODEC
    )
    assert list(node) == ["type", "fields", "optional", "name", "version", "doc", "parameters"]
    assert list(node["fields"][0]) == ["type", "optional", "field"]
    assert list(schema_to_json(map_schema(STRING_SCHEMA, INT32_SCHEMA), CODEC)) == [
        "type",
        "keys",
        "values",
        "optional",
    ]
    assert list(schema_to_json(array_schema(INT32_SCHEMA), CODEC)) == ["type", "items", "optional"]
    assert schema_to_json(None, CODEC) is None


@pytest.mark.parametrize(
    "node, expected",
    [
        ({"type": "int32"}, INT32_SCHEMA),
        ({"type": "int32", "optional": False}, INT32_SCHEMA),
        ({"type": "int32", "optional": "true"}, INT32_SCHEMA),  # only JSON true makes it optional, as in Connect
        ({"type": "int32", "version": 1.5}, INT32_SCHEMA),  # a non-integral version is ignored, as in Connect
        ({"type": "int32", "version": 2}, Schema(Type.INT32, version=2)),
        ({"type": "int32", "name": 5, "doc": []}, INT32_SCHEMA),
        ({"type": "int32", "parameters": "x"}, INT32_SCHEMA),
        ({"type": "int32", "default": None}, INT32_SCHEMA),  # explicit null: no default
        ({"type": "int32", "unknown": "ignored"}, INT32_SCHEMA),
        (None, None),
    ],
)
def test_lenient_attributes_follow_connect(node, expected):
    assert schema_from_json(node, CODEC) == expected


def test_struct_default_is_a_struct():
    node = {"type": "struct", "fields": [{"type": "int32", "field": "a"}], "optional": True, "default": {"a": 3}}
    schema = schema_from_json(node, CODEC)
    assert isinstance(schema.default, Struct) and schema.default.get("a") == 3


# Connect's JsonSchema type names: its Type names, except "float" and "double".
JSON_TYPE_NAMES = [
    (Type.INT8, "int8"),
    (Type.INT16, "int16"),
    (Type.INT32, "int32"),
    (Type.INT64, "int64"),
    (Type.FLOAT32, "float"),
    (Type.FLOAT64, "double"),
    (Type.BOOLEAN, "boolean"),
    (Type.STRING, "string"),
    (Type.BYTES, "bytes"),
]


@pytest.mark.parametrize("kind, name", JSON_TYPE_NAMES, ids=[name for _, name in JSON_TYPE_NAMES])
def test_primitive_types_have_connects_json_names(kind, name):
    assert schema_to_json(Schema(kind), CODEC) == {"type": name, "optional": False}
    assert schema_from_json({"type": name}, CODEC) == Schema(kind)


@pytest.mark.parametrize("name, kind", [("float32", Type.FLOAT32), ("float64", Type.FLOAT64)])
def test_the_names_streamapp_wrote_before_are_still_read(name, kind):
    assert schema_from_json({"type": name, "optional": True}, CODEC) == Schema(kind, optional=True)
