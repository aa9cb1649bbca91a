"""KCQL projection: the same selection, renaming and IGNORE rules for every payload kind."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pytest

from streamapp.data import (
    BYTES_SCHEMA,
    DATE_SCHEMA,
    FLOAT64_SCHEMA,
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
from streamapp.kcql import Projection, ProjectionError, parse, project

SEED = {"firstName": "John", "lastName": "Smith", "age": 30, "salary": 4830}
SEED_SCHEMA = struct_schema(
    [("firstName", STRING_SCHEMA), ("lastName", STRING_SCHEMA), ("age", INT32_SCHEMA), ("salary", FLOAT64_SCHEMA)],
    name="User",
)

READING_SCHEMA = struct_schema([("t", FLOAT64_SCHEMA), ("unit", STRING_SCHEMA), ("raw", OPTIONAL_STRING_SCHEMA)])
NESTED_SCHEMA = struct_schema(
    [("id", INT32_SCHEMA), ("name", STRING_SCHEMA), ("reading", READING_SCHEMA), ("secret", STRING_SCHEMA)]
)
NESTED = {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C", "raw": "x"}, "secret": "s"}


def nested_struct() -> Struct:
    reading = Struct(READING_SCHEMA, NESTED["reading"])
    return Struct(NESTED_SCHEMA, {**NESTED, "reading": reading})


# The three payload kinds of the seed, carrying the same data: (schema, value)
KINDS = {
    "struct": lambda: (NESTED_SCHEMA, nested_struct()),
    "string-json": lambda: (OPTIONAL_STRING_SCHEMA, json.dumps(NESTED)),
    "schemaless": lambda: (None, json.loads(json.dumps(NESTED))),
    "schemaless-string": lambda: (None, json.dumps(NESTED)),
}


def run(kcql: str, kind: str):
    schema, value = KINDS[kind]()
    (statement,) = parse(kcql)
    return project(statement, schema, value)


PAYLOAD_KINDS = ["struct", "string-json", "schemaless", "schemaless-string"]
CASES = [
    ("SELECT *", NESTED),
    ("SELECT * FROM t IGNORE secret", {k: v for k, v in NESTED.items() if k != "secret"}),
    ("SELECT * FROM t IGNORE secret, reading.raw", {"id": 7, "name": "probe", "reading": {"t": 21.5, "unit": "C"}}),
    ("SELECT id, name", {"id": 7, "name": "probe"}),
    ("SELECT name, id", {"name": "probe", "id": 7}),
    ("SELECT id AS sensor, reading.t AS celsius, reading.unit", {"sensor": 7, "celsius": 21.5, "unit": "C"}),
    ("SELECT reading", {"reading": NESTED["reading"]}),
    ("SELECT reading FROM t IGNORE reading.raw, reading.unit", {"reading": {"t": 21.5}}),
    ("SELECT *, name AS label", {"id": 7, "label": "probe", "reading": NESTED["reading"], "secret": "s"}),
    (
        "SELECT *, reading.t AS celsius FROM t IGNORE secret",
        {**{k: v for k, v in NESTED.items() if k != "secret"}, "celsius": 21.5},
    ),
    ("SELECT *, reading.t AS celsius FROM t IGNORE reading", {"id": 7, "name": "probe", "secret": "s"}),  # IGNORE wins
    ("SELECT id, secret FROM t IGNORE secret", {"id": 7}),
    ("SELECT id, reading.t FROM t IGNORE reading", {"id": 7}),
    ("SELECT id, missing", None),  # struct: error; JSON: left out
]


@pytest.mark.parametrize("kind", PAYLOAD_KINDS)
@pytest.mark.parametrize("select,expected", CASES, ids=[c[0] for c in CASES])
def test_projection_rules_for_every_payload_kind(kind, select, expected):
    kcql = f"INSERT INTO r {select}" + ("" if " FROM " in select else " FROM t")
    if expected is None:
        if kind == "struct":
            with pytest.raises(
                ProjectionError, match=r"selected field 'missing' does not exist; the struct has: id, name"
            ):
                run(kcql, kind)
            return
        expected = {"id": 7}
    result = run(kcql, kind)
    assert result == expected
    assert list(result) == list(expected)  # field order: the value's for '*', the SELECT list's otherwise


def test_seed_record_as_struct_schemaless_and_string():
    (statement,) = parse("INSERT INTO unsecure SELECT * FROM coap_topic")
    struct = Struct(SEED_SCHEMA, {**SEED, "salary": 4830.0})
    assert project(statement, SEED_SCHEMA, struct) == {**SEED, "salary": 4830.0}
    assert project(statement, None, dict(SEED)) == SEED
    assert project(statement, STRING_SCHEMA, json.dumps(SEED)) == SEED


def test_a_field_through_null_is_null_and_struct_defaults_apply():
    schema = struct_schema(
        [
            ("a", Schema(Type.STRUCT, optional=True, fields=READING_SCHEMA.fields)),
            ("n", Schema(Type.INT32, optional=True, default=5)),
        ]
    )
    value = Struct(schema, {"a": None})
    (statement,) = parse("INSERT INTO r SELECT a.t, n FROM t")
    assert project(statement, schema, value) == {"t": None, "n": 5}


def test_selecting_inside_a_non_object_is_an_error():
    (statement,) = parse("INSERT INTO r SELECT a.b FROM t")
    with pytest.raises(ProjectionError, match=r"cannot select 'a.b': 'a' is a JSON number, not an object"):
        project(statement, None, {"a": 1})


@pytest.mark.parametrize(
    "schema,value,message",
    [
        (None, None, "the value is null \\(a tombstone\\)"),
        (STRING_SCHEMA, "not json", "the string value is not JSON"),
        (None, "{broken", "the string value is not JSON"),
        (INT32_SCHEMA, 5, "values with a int32 schema are not supported"),
        (BYTES_SCHEMA, b"{}", "values with a bytes schema are not supported"),
        (map_schema(INT32_SCHEMA, INT32_SCHEMA), {1: 2}, "has no JSON object form: its keys are not text"),
    ],
)
def test_values_that_cannot_be_sent(schema, value, message):
    (statement,) = parse("INSERT INTO r SELECT * FROM t")
    with pytest.raises(ProjectionError, match=message):
        project(statement, schema, value)


def test_any_json_value_passes_select_star_but_fields_need_an_object():
    (star,) = parse("INSERT INTO r SELECT * FROM t")
    (some,) = parse("INSERT INTO r SELECT a FROM t")
    assert project(star, None, [1, 2]) == [1, 2]
    assert project(star, STRING_SCHEMA, "[1, 2]") == [1, 2]
    assert project(star, None, 3.5) == 3.5
    with pytest.raises(
        ProjectionError, match=r"cannot select fields from a JSON array; 'INSERT INTO r SELECT a FROM t'"
    ):
        project(some, None, [1, 2])
    with pytest.raises(ProjectionError, match=r"cannot select fields from a JSON number"):
        project(some, STRING_SCHEMA, "42")


def test_logical_types_bytes_arrays_and_maps_become_json():
    schema = struct_schema(
        [
            ("price", decimal_schema(2)),
            ("day", DATE_SCHEMA),
            ("at", TIME_SCHEMA),
            ("ts", TIMESTAMP_SCHEMA),
            ("blob", BYTES_SCHEMA),
            ("tags", array_schema(STRING_SCHEMA)),
            ("counts", map_schema(STRING_SCHEMA, INT64_SCHEMA)),
            ("pairs", map_schema(INT32_SCHEMA, STRING_SCHEMA)),
        ]
    )
    value = Struct(
        schema,
        {
            "price": decimal.Decimal("4830.10"),
            "day": dt.date(2024, 2, 29),
            "at": dt.time(1, 2, 3, 4000),
            "ts": dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.UTC),
            "blob": b"\x00\xff",
            "tags": ["a", "b"],
            "counts": {"x": 1},
            "pairs": {1: "one"},
        },
    )
    (statement,) = parse("INSERT INTO r SELECT * FROM t IGNORE counts.x")
    assert project(statement, schema, value) == {
        "price": "4830.10",
        "day": "2024-02-29",
        "at": "01:02:03.004",
        "ts": "2023-11-14T22:13:20.123Z",
        "blob": "AP8=",
        "tags": ["a", "b"],
        "counts": {},
        "pairs": [[1, "one"]],
    }


def test_non_finite_floats_are_refused_with_where():
    (statement,) = parse("INSERT INTO r SELECT * FROM t")
    with pytest.raises(ProjectionError, match=r"a\.b: nan has no JSON form"):
        project(statement, None, {"a": {"b": float("nan")}})


def test_projection_is_compiled_once_per_statement():
    (statement,) = parse("INSERT INTO r SELECT a AS b FROM t")
    projection = Projection(statement)
    assert projection.apply(None, {"a": 1, "c": 2}) == {"b": 1}
    assert not projection.identity
    assert Projection(parse("INSERT INTO r SELECT * FROM t")[0]).identity
