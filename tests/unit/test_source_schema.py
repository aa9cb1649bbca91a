"""Schema inference of the Diffusion source: Diffusion values -> (Connect schema, Connect value)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re

import cbor2
import pytest

from streamapp.config.converter_options import JsonConverterOptions
from streamapp.converters import ConversionError, JsonConverter
from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DECIMAL_NAME,
    FLOAT64_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    Schema,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
    validate_value,
)
from streamapp.diffusion.schema_inference import infer, infer_schema, to_connect_value

D = decimal.Decimal

CASES = [
    # value, expected schema
    (None, None),
    (True, BOOLEAN_SCHEMA),
    (False, BOOLEAN_SCHEMA),
    ("x", STRING_SCHEMA),
    ("", STRING_SCHEMA),
    (0, INT32_SCHEMA),
    (-(2**31), INT32_SCHEMA),
    (2**31 - 1, INT32_SCHEMA),
    (2**31, INT64_SCHEMA),
    (-(2**31) - 1, INT64_SCHEMA),
    (2**63 - 1, INT64_SCHEMA),
    (2**63, decimal_schema(0)),
    (-(2**64), decimal_schema(0)),
    (1.5, FLOAT64_SCHEMA),
    (float("inf"), FLOAT64_SCHEMA),
    (b"\x00\xff", BYTES_SCHEMA),
    (b"", BYTES_SCHEMA),
    (D("1.25"), decimal_schema(2)),
    (D("12"), decimal_schema(0)),
    (D("1E+3"), decimal_schema(0)),
    ([1, 2, 3], array_schema(INT32_SCHEMA)),
    ([1, None], array_schema(OPTIONAL_INT32_SCHEMA)),
    (["a", None, "b"], array_schema(OPTIONAL_STRING_SCHEMA)),
    ([1, 2**40], array_schema(INT64_SCHEMA)),
    ([1, 1.5], array_schema(FLOAT64_SCHEMA)),
    ([2**60, 1.5], None),  # not exactly representable as a double
    ([2**40, 1.5], None),  # int64 and float: no single exact type
    ([1, 2**70], array_schema(decimal_schema(0))),
    ([D("1.5"), 2], array_schema(decimal_schema(1))),
    ([1, "a"], None),
    ([True, 1], None),
    ([], None),
    ([None, None], None),
    ([[1, 2], [3]], array_schema(array_schema(INT32_SCHEMA))),
    ([[1], ["a"]], None),
    ([[], [1]], None),  # an empty inner array has no element schema
    ([{"a": 1}, {"b": 2}], array_schema(map_schema(STRING_SCHEMA, INT32_SCHEMA))),
    ({"a": 1, "b": 2}, map_schema(STRING_SCHEMA, INT32_SCHEMA)),
    ({"a": 1.5, "b": 2}, map_schema(STRING_SCHEMA, FLOAT64_SCHEMA)),
    ({"a": "x", "b": None}, map_schema(STRING_SCHEMA, OPTIONAL_STRING_SCHEMA)),
    (
        {"name": "x", "px": 1.5},
        None,
    ),  # a typical JSON object: schemaless, never a partial schema
    ({}, None),
    ({"a": None}, None),
    ({1: "a"}, None),  # non-string keys
    (
        {"a": {"b": [1]}},
        map_schema(STRING_SCHEMA, map_schema(STRING_SCHEMA, array_schema(INT32_SCHEMA))),
    ),
    ({"a": b"x", "b": b"y"}, map_schema(STRING_SCHEMA, BYTES_SCHEMA)),
    ([D("1.5"), D("2.25")], array_schema(decimal_schema(2))),
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[repr(c[0])[:40] for c in CASES])
def test_inferred_schema(value, expected):
    schema, connect = infer(value)
    assert schema == expected
    if schema is not None:
        validate_value(schema, connect)  # the value always fits its schema


def test_never_a_partial_schema():
    def walk(schema: Schema | None) -> None:
        if schema is None:
            return
        if schema.type is Type.ARRAY:
            assert schema.value_schema is not None
            walk(schema.value_schema)
        if schema.type is Type.MAP:
            assert schema.key_schema is not None and schema.value_schema is not None
            walk(schema.value_schema)

    for value, _ in CASES:
        walk(infer(value)[0])


def test_big_integers_become_decimals():
    schema, value = infer(2**70)
    assert schema.name == DECIMAL_NAME and schema.scale == 0
    assert value == D(2**70)
    schema, value = infer([1, 2**70])
    assert schema == array_schema(decimal_schema(0))
    assert value == [D(1), D(2**70)]


def test_decimals_take_the_largest_scale():
    schema, value = infer([D("1.5"), D("2.125")])
    assert schema == array_schema(decimal_schema(3))
    assert value == [D("1.500"), D("2.125")]


def test_cbor_values_decoded_like_the_sdk_does():
    raw = cbor2.dumps(
        {
            "b": b"\x01",
            "big": 2**80,
            "dec": D("3.14"),
            "t": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        }
    )
    schema, value = infer(cbor2.loads(raw))
    assert schema is None
    # In a schemaless value a decimal fraction is a float: only a Decimal schema says how to write
    # a decimal (Connect's JsonConverter refuses one without), and Connect reads such a number as a double.
    assert value == {
        "b": b"\x01",
        "big": 2**80,
        "dec": 3.14,
        "t": "2024-01-02T00:00:00+00:00",
    }
    assert type(value["dec"]) is float


def test_decimals_in_schemaless_values_are_floats_at_any_depth():
    schema, value = infer({"name": "x", "prices": [D("1.25"), "n/a"], "nested": {"d": D("-0.5"), "s": "t"}})
    assert schema is None
    assert value == {"name": "x", "prices": [1.25, "n/a"], "nested": {"d": -0.5, "s": "t"}}


# What the source produces with Connect's JsonConverter: the records a Connect consumer reads.
FINITE_CASES = [case for case in CASES if case[0] != float("inf")]


@pytest.mark.parametrize(("value", "expected"), FINITE_CASES, ids=[repr(c[0])[:40] for c in FINITE_CASES])
@pytest.mark.parametrize("schemas", [True, False], ids=["envelope", "plain"])
def test_every_inferred_value_is_written_by_the_json_converter_and_read_back(value, expected, schemas):
    converter = JsonConverter(JsonConverterOptions.model_validate({"schemas.enable": schemas}))
    schema, connect = infer(value)
    data = converter.from_connect("t", schema, connect)
    if data is None:
        assert schema is None and connect is None  # a tombstone, as in Connect
        return
    read = converter.to_connect("t", data)
    if schemas:
        assert read.schema == schema
        assert read.value == connect or (schema is None and read.value == json.loads(data)["payload"])
    names = re.findall(rb'"type":"(\w+)"', data)
    assert not {b"float32", b"float64"} & set(names)  # Connect's names: float and double


def test_a_double_topic_set_to_nan_is_a_conversion_error_not_an_unreadable_record():
    schema, value = infer(float("nan"))
    assert schema == FLOAT64_SCHEMA
    with pytest.raises(ConversionError, match="cannot write nan as JSON"):
        JsonConverter().from_connect("t", schema, value)


def test_exotic_cbor_items_never_crash():
    tagged = cbor2.CBORTag(999, [1, 2])
    assert to_connect_value(tagged) == [1, 2]
    assert to_connect_value(cbor2.undefined) in ("undefined", None) or isinstance(
        to_connect_value(cbor2.undefined), str
    )
    assert to_connect_value({b"k": 1}) == {"6b": 1}
    assert to_connect_value((1, 2)) == [1, 2]
    assert to_connect_value(D("NaN")) == "NaN"
    assert infer_schema(to_connect_value({1, 2})) == array_schema(INT32_SCHEMA)


def test_too_deep_is_a_value_error():
    value: list = []
    for _ in range(300):
        value = [value]
    with pytest.raises(ValueError, match="nested too deeply"):
        infer(value)
