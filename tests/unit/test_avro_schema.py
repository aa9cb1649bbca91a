"""Avro <-> Connect mapping (streamapp.converters.avro_data), value by value through the Avro binary.

The cases ported from Confluent's own AvroDataTest are in test_avro_confluent_cases.py; these are
the project's own."""

from __future__ import annotations

import datetime as dt
import decimal
import io

import fastavro
import pytest

from streamapp.converters.avro_data import AvroData
from streamapp.converters.avro_from_connect import connect_to_avro, strip_logical_types
from streamapp.converters.avro_schema import (
    ENUM_PARAMETER,
    FIXED_SIZE_PARAMETER,
    PRECISION_PARAMETER,
    UNION_NAME,
    AvroSchemaError,
)
from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DATE_SCHEMA,
    DECIMAL_NAME,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT16_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    TIME_SCHEMA,
    TIMESTAMP_SCHEMA,
    Schema,
    Struct,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
)

UTC = dt.UTC


def encode(avro, value):
    """``value`` as Avro binary, written by fastavro (unions in its tuple notation pick their branch)."""
    try:
        parsed = fastavro.parse_schema(avro)
    except Exception:  # noqa: BLE001 - a logical type fastavro refuses: write the underlying type
        parsed = fastavro.parse_schema(strip_logical_types(avro))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, parsed, value)
    return buffer.getvalue()


def read(avro, value, *, version=None):
    """Write ``value`` with fastavro, read it back through the mapping: (Connect schema, Connect value)."""
    data = AvroData()
    reader = data.reader(avro, version)
    return reader.schema, data.read(reader, io.BytesIO(encode(avro, value))).value


def avro_to_connect(avro):
    return AvroData().reader(avro)


def record(*fields, name="R", **extra):
    return {"type": "record", "name": name, "fields": [{"name": n, "type": t} for n, t in fields], **extra}


PRIMITIVES = [
    ("boolean", True, BOOLEAN_SCHEMA),
    ("int", -(2**31), INT32_SCHEMA),
    ("long", 2**63 - 1, INT64_SCHEMA),
    ("float", 1.5, FLOAT32_SCHEMA),
    ("double", 0.1 + 0.2, FLOAT64_SCHEMA),
    ("string", "héllo ✓", STRING_SCHEMA),
    ("bytes", b"\x00\xff", BYTES_SCHEMA),
    ({"type": "int", "connect.type": "int8"}, -128, INT8_SCHEMA),
    ({"type": "int", "connect.type": "int16"}, 32767, INT16_SCHEMA),
    ({"type": "string"}, "wrapped", STRING_SCHEMA),
]


@pytest.mark.parametrize("avro,value,expected", PRIMITIVES, ids=[str(p[0]) for p in PRIMITIVES])
def test_primitives(avro, value, expected):
    schema, got = read(avro, value)
    assert schema == expected and got == value and type(got) is type(value)


LOGICAL = [
    ({"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}, decimal.Decimal("-12.34"), "-12.34"),
    (
        {"type": "fixed", "name": "F", "size": 6, "logicalType": "decimal", "precision": 9, "scale": 3},
        decimal.Decimal("1.500"),
        "1.500",
    ),
    ({"type": "int", "logicalType": "date"}, dt.date(2024, 1, 31), dt.date(2024, 1, 31)),
    ({"type": "int", "logicalType": "time-millis"}, dt.time(13, 45, 0, 123000), dt.time(13, 45, 0, 123000)),
    (
        {"type": "long", "logicalType": "timestamp-millis"},
        dt.datetime(2024, 1, 31, 13, 45, 0, 123000, tzinfo=UTC),
        dt.datetime(2024, 1, 31, 13, 45, 0, 123000, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    "avro,value,expected", LOGICAL, ids=[a.get("logicalType") + "-" + a["type"] for a, _, _ in LOGICAL]
)
def test_logical_types_become_connect_logical_types(avro, value, expected):
    schema, got = read(avro, value)
    if isinstance(expected, str):
        assert schema.name == DECIMAL_NAME and schema.type is Type.BYTES
        assert schema.scale == avro["scale"] and schema.parameters[PRECISION_PARAMETER] == str(avro["precision"])
        assert str(got) == expected and got.as_tuple().exponent == -avro["scale"]
    else:
        assert (
            schema
            == {"date": DATE_SCHEMA, "time-millis": TIME_SCHEMA, "timestamp-millis": TIMESTAMP_SCHEMA}[
                avro["logicalType"]
            ]
        )
        assert got == expected


@pytest.mark.parametrize(
    "avro,value,expected,connect_type",
    [
        ({"type": "long", "logicalType": "time-micros"}, dt.time(0, 0, 1, 5), 1_000_005, Type.INT64),
        (
            {"type": "long", "logicalType": "timestamp-micros"},
            dt.datetime(1970, 1, 1, 0, 0, 1, 7, tzinfo=UTC),
            1_000_007,
            Type.INT64,
        ),
        ({"type": "long", "logicalType": "local-timestamp-millis"}, dt.datetime(1970, 1, 1, 0, 0, 2), 2000, Type.INT64),
        (
            {"type": "string", "logicalType": "uuid"},
            "0b3f6b2e-6d8a-4b59-9c1e-2f7c3b1f0a11",
            "0b3f6b2e-6d8a-4b59-9c1e-2f7c3b1f0a11",
            Type.STRING,
        ),
    ],
    ids=["time-micros", "timestamp-micros", "local-timestamp-millis", "uuid"],
)
def test_logical_types_connect_lacks_stay_raw_values(avro, value, expected, connect_type):
    schema, got = read(avro, value)
    assert schema == Schema(connect_type) and got == expected


def test_record_becomes_struct_in_field_order_with_full_name_and_doc_parameter():
    avro = record(("z", "int"), ("a", "string"), ("m", "double"), name="Point", namespace="geo", doc="a point")
    schema, got = read(avro, {"a": "x", "z": 1, "m": 2.0})
    # Confluent keeps an Avro record's doc in a parameter (Connect's doc comes from connect.doc)
    assert schema == struct_schema(
        [("z", INT32_SCHEMA), ("a", STRING_SCHEMA), ("m", FLOAT64_SCHEMA)],
        name="geo.Point",
        parameters={"io.confluent.connect.avro.record.doc": "a point"},
    )
    assert isinstance(got, Struct) and list(got.items()) == [("z", 1), ("a", "x"), ("m", 2.0)]
    got.validate()


def test_registry_version_goes_on_the_top_schema_and_the_structs_carry_it():
    schema, got = read(record(("a", "int")), {"a": 1}, version=4)
    assert schema.version == 4 and got.schema is schema
    primitive, _ = read("string", "s", version=2)
    assert primitive == Schema(Type.STRING, version=2)


@pytest.mark.parametrize("branches", [["null", "string"], ["string", "null"]])
def test_nullable_unions_are_optional_whichever_order(branches):
    avro = record(("s", branches))
    schema, got = read(avro, {"s": None})
    assert schema.field("s").schema == OPTIONAL_STRING_SCHEMA and got.get("s") is None
    assert read(avro, {"s": "v"})[1].get("s") == "v"


def test_optional_nested_record_struct_carries_the_optional_schema():
    inner = record(("v", "int"), name="Inner")
    avro = record(("a", inner), ("b", ["null", "Inner"]), ("c", {"type": "array", "items": ["null", "Inner"]}))
    schema, got = read(avro, {"a": {"v": 1}, "b": {"v": 2}, "c": [None, {"v": 3}]})
    b = schema.field("b").schema
    assert b.optional and b.name == "Inner" and not schema.field("a").schema.optional
    assert got.get("b").schema == b and got.get("c")[1].schema == schema.field("c").schema.value_schema
    assert got.get("c")[0] is None
    got.validate()  # Connect checks nested structs' schemas by equality


def test_enum_and_fixed_keep_their_names_as_parameters():
    avro = record(
        ("e", {"type": "enum", "name": "Suit", "namespace": "cards", "symbols": ["H", "S"]}),
        ("f", {"type": "fixed", "name": "MD5", "size": 2}),
    )
    schema, got = read(avro, {"e": "S", "f": b"\x01\x02"})
    enum = schema.field("e").schema
    assert enum.type is Type.STRING and enum.name == "cards.Suit"
    assert dict(enum.parameters) == {
        ENUM_PARAMETER: "cards.Suit",
        f"{ENUM_PARAMETER}.H": "H",
        f"{ENUM_PARAMETER}.S": "S",
    }
    fixed = schema.field("f").schema
    assert fixed.type is Type.BYTES and fixed.name == "MD5" and fixed.parameters[FIXED_SIZE_PARAMETER] == "2"
    assert got.get("e") == "S" and got.get("f") == b"\x01\x02"


def test_arrays_and_maps_recurse_into_records():
    inner = record(("v", "int"), name="Inner")
    avro = record(
        ("arr", {"type": "array", "items": inner}),
        ("m", {"type": "map", "values": ["null", "Inner"]}),
        ("nested", {"type": "array", "items": {"type": "map", "values": "long"}}),
    )
    schema, got = read(avro, {"arr": [{"v": 1}], "m": {"k": {"v": 2}, "n": None}, "nested": [{"a": 1}]})
    assert schema.field("arr").schema == array_schema(struct_schema([("v", INT32_SCHEMA)], name="Inner"))
    assert schema.field("m").schema.key_schema == STRING_SCHEMA
    assert schema.field("nested").schema == array_schema(map_schema(STRING_SCHEMA, INT64_SCHEMA))
    assert got.get("arr")[0].get("v") == 1 and got.get("m")["k"].get("v") == 2 and got.get("m")["n"] is None
    assert got.get("nested") == [{"a": 1}]


def test_general_unions_become_connect_union_structs():
    point = record(("x", "int"), name="Point")
    avro = record(("u", ["null", "int", "string", point, {"type": "array", "items": "long"}]))
    schema, _ = read(avro, {"u": None})
    union = schema.field("u").schema
    assert union.name == UNION_NAME and union.optional
    assert [f.name for f in union.fields] == ["int", "string", "Point", "array"]
    assert all(f.schema.optional for f in union.fields)
    for value, branch in ((5, "int"), ("s", "string"), ({"x": 1}, "Point"), ([1, 2], "array")):
        got = read(avro, {"u": value})[1].get("u")
        expected = got.get(branch)
        assert [name for name, v in got.items() if v is not None] == [branch]
        assert (expected.get("x") if branch == "Point" else expected) == (value["x"] if branch == "Point" else value)


def test_bool_does_not_match_an_int_union_branch():
    avro = record(("u", ["int", "boolean"]))
    got = read(avro, {"u": True})[1].get("u")
    assert got.get("boolean") is True and got.get("int") is None


def test_field_defaults_become_connect_defaults():
    avro = {
        "type": "record",
        "name": "D",
        "fields": [
            {"name": "i", "type": "int", "default": 3},
            {"name": "s", "type": "string", "default": "x"},
            {"name": "b", "type": "bytes", "default": "\u00ff"},
            {"name": "f", "type": "float", "default": 1},
            {"name": "a", "type": {"type": "array", "items": "int"}, "default": [1, 2]},
            {"name": "n", "type": ["null", "int"], "default": None},
        ],
    }
    schema = avro_to_connect(avro).schema
    assert [schema.field(n).schema.default for n in "isbfan"] == [3, "x", b"\xff", 1.0, [1, 2], None]


@pytest.mark.parametrize(
    "avro,message",
    [
        ("null", "standalone null schemas are not supported"),
        (["null"], "standalone null schemas are not supported"),
        (record(("self", "R")), "'R' contains itself outside a union, array or map"),
        (record(("x", "Missing")), "unknown Avro type name 'Missing'"),
        ({"no": "type"}, "not an Avro schema"),
    ],
)
def test_schemas_connect_cannot_represent_are_refused(avro, message):
    with pytest.raises(AvroSchemaError, match=message):
        avro_to_connect(avro)


def test_error_location_names_the_field():
    with pytest.raises(AvroSchemaError) as caught:
        avro_to_connect(record(("ok", "int"), ("bad", "Missing")))
    assert caught.value.location == "bad"


# ---------------------------------------------------------------------------- Connect -> Avro


def write_and_read(schema, value):
    data = AvroData()
    avro, payload = data.from_connect(schema, value)
    reader = data.reader(avro)
    got = None if payload is None else data.read(reader, io.BytesIO(payload)).value
    return avro, reader.schema, got


ROUND_TRIPS = [
    (INT8_SCHEMA, -5, {"type": "int", "connect.type": "int8"}),
    (INT16_SCHEMA, 300, {"type": "int", "connect.type": "int16"}),
    (INT32_SCHEMA, 7, "int"),
    (INT64_SCHEMA, 2**40, "long"),
    (FLOAT32_SCHEMA, 0.5, "float"),
    (FLOAT64_SCHEMA, 0.1, "double"),
    (BOOLEAN_SCHEMA, False, "boolean"),
    (STRING_SCHEMA, "s", "string"),
    (BYTES_SCHEMA, bytearray(b"\x01"), "bytes"),
    (OPTIONAL_STRING_SCHEMA, None, ["null", "string"]),
    (array_schema(INT32_SCHEMA), [1, 2], {"type": "array", "items": "int"}),
    (map_schema(STRING_SCHEMA, FLOAT64_SCHEMA), {"a": 1.0}, {"type": "map", "values": "double"}),
]


@pytest.mark.parametrize("schema,value,avro", ROUND_TRIPS, ids=[repr(r[0])[:40] for r in ROUND_TRIPS])
def test_connect_schemas_round_trip_through_avro(schema, value, avro):
    written, back, got = write_and_read(schema, value)
    assert written == avro
    assert back == schema and got == (bytes(value) if isinstance(value, bytearray) else value)


def test_logical_and_struct_schemas_round_trip():
    inner = struct_schema([("t", FLOAT64_SCHEMA)], optional=True)
    schema = struct_schema(
        [
            ("price", decimal_schema(2)),
            ("day", DATE_SCHEMA),
            ("at", TIME_SCHEMA),
            ("ts", TIMESTAMP_SCHEMA),
            ("inner", inner),
            ("other", struct_schema([("u", STRING_SCHEMA)])),
        ],
        name="com.example.Reading",
        version=3,
    )
    value = Struct(
        schema,
        {
            "price": decimal.Decimal("1.20"),
            "day": dt.date(2020, 2, 29),
            "at": dt.time(1, 2, 3, 4000),
            "ts": dt.datetime(2020, 2, 29, 1, 2, 3, 4000, tzinfo=UTC),
            "inner": Struct(inner, {"t": 2.5}),
            "other": Struct(schema.field("other").schema, {"u": "x"}),
        },
    )
    avro, back, got = write_and_read(schema, value)
    assert avro["name"] == "Reading" and avro["namespace"] == "com.example" and avro["connect.version"] == 3
    assert avro["fields"][4]["type"][0] == "null" and avro["fields"][4]["default"] is None
    names = [avro["fields"][4]["type"][1]["name"], avro["fields"][5]["type"]["name"]]
    assert names == ["ConnectDefault", "ConnectDefault2"]  # Confluent's names for unnamed structs
    assert back.field("price").schema.scale == 2 and back.field("day").schema == DATE_SCHEMA
    assert [v for _, v in got.items()][:4] == [v for _, v in value.items()][:4]
    assert got.get("inner").get("t") == 2.5 and got.get("other").get("u") == "x"


def test_maps_with_non_string_keys_are_arrays_of_entries_in_avro_and_maps_again_in_connect():
    schema = map_schema(INT32_SCHEMA, STRING_SCHEMA)
    avro, back, got = write_and_read(schema, {1: "a", 2: "b"})
    assert avro["type"] == "array" and avro["items"]["name"] == "MapEntry"
    assert back == schema and got == {1: "a", 2: "b"}


def test_a_value_that_is_not_a_struct_is_a_data_error():
    schema = struct_schema([("a", INT32_SCHEMA)], name="S")
    with pytest.raises(ValueError, match="expected a Struct"):
        connect_to_avro(schema).encode({"a": 1})
