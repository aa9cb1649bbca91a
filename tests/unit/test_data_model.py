"""The Record and Schema model: what converters and connectors rely on."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
from types import MappingProxyType

import pytest

from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DATE_NAME,
    DATE_SCHEMA,
    DECIMAL_NAME,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT16_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    TIME_NAME,
    TIME_SCHEMA,
    TIMESTAMP_NAME,
    TIMESTAMP_SCHEMA,
    DataError,
    Field,
    Record,
    RecordError,
    Schema,
    SchemaAndValue,
    Struct,
    Type,
    array_schema,
    date_from_days,
    date_to_days,
    decimal_from_bytes,
    decimal_schema,
    decimal_to_bytes,
    describe_value,
    map_schema,
    rescale_decimal,
    struct_schema,
    time_from_millis,
    time_to_millis,
    timestamp_from_millis,
    timestamp_to_millis,
    validate_value,
)
from streamapp.errors import StreamAppError

UTC = dt.UTC
D = decimal.Decimal
PERSON = struct_schema(
    [("name", STRING_SCHEMA), ("age", INT32_SCHEMA), ("email", OPTIONAL_STRING_SCHEMA)], name="Person", version=2
)


# ----------------------------------------------------------------------------- Type and Schema


def test_type_values_are_connect_type_names():
    assert [t.value for t in Type] == [
        "int8",
        "int16",
        "int32",
        "int64",
        "float32",
        "float64",
        "boolean",
        "string",
        "bytes",
        "array",
        "map",
        "struct",
    ]
    assert Type.INT32.is_primitive and not Type.STRUCT.is_primitive


@pytest.mark.parametrize(
    "constant, kind, optional",
    [
        (INT8_SCHEMA, Type.INT8, False),
        (INT16_SCHEMA, Type.INT16, False),
        (INT32_SCHEMA, Type.INT32, False),
        (INT64_SCHEMA, Type.INT64, False),
        (FLOAT32_SCHEMA, Type.FLOAT32, False),
        (FLOAT64_SCHEMA, Type.FLOAT64, False),
        (BOOLEAN_SCHEMA, Type.BOOLEAN, False),
        (STRING_SCHEMA, Type.STRING, False),
        (BYTES_SCHEMA, Type.BYTES, False),
        (OPTIONAL_INT32_SCHEMA, Type.INT32, True),
        (OPTIONAL_STRING_SCHEMA, Type.STRING, True),
    ],
)
def test_primitive_schema_constants(constant, kind, optional):
    assert constant.type is kind and constant.optional is optional
    assert constant.name is None and constant.default is None and constant.fields == ()


@pytest.mark.parametrize(
    "schema, name, base",
    [
        (decimal_schema(2), DECIMAL_NAME, Type.BYTES),
        (DATE_SCHEMA, DATE_NAME, Type.INT32),
        (TIME_SCHEMA, TIME_NAME, Type.INT32),
        (TIMESTAMP_SCHEMA, TIMESTAMP_NAME, Type.INT64),
    ],
)
def test_logical_schemas_use_connect_names_and_base_types(schema, name, base):
    assert schema.name == name and schema.type is base and schema.logical_name == name


def test_decimal_schema_carries_scale_parameter():
    schema = decimal_schema(3, optional=True)
    assert schema.parameters == {"scale": "3"} and schema.scale == 3 and schema.optional
    assert INT32_SCHEMA.scale is None


def test_struct_schema_assigns_indices_and_finds_fields():
    assert [(f.name, f.index) for f in PERSON.fields] == [("name", 0), ("age", 1), ("email", 2)]
    assert PERSON.field("age") == Field("age", 1, INT32_SCHEMA)
    assert PERSON.field("missing") is None


def test_struct_schema_accepts_a_mapping_of_fields():
    assert struct_schema({"a": INT32_SCHEMA, "b": STRING_SCHEMA}).fields == (
        Field("a", 0, INT32_SCHEMA),
        Field("b", 1, STRING_SCHEMA),
    )


def test_schemas_compare_and_hash_by_value():
    again = struct_schema(
        [("name", STRING_SCHEMA), ("age", INT32_SCHEMA), ("email", OPTIONAL_STRING_SCHEMA)], name="Person", version=2
    )
    assert again == PERSON and hash(again) == hash(PERSON) and again is not PERSON
    assert {PERSON: 1}[again] == 1
    assert Schema(Type.INT32, default=5) != INT32_SCHEMA
    assert Schema(Type.INT32, parameters={"a": "b"}) != INT32_SCHEMA
    assert Schema(Type.INT32, parameters={}) == INT32_SCHEMA
    assert decimal_schema(2) != decimal_schema(3)
    assert INT32_SCHEMA != OPTIONAL_INT32_SCHEMA
    assert INT32_SCHEMA != "int32"


def test_schema_is_immutable_and_parameters_are_read_only():
    schema = decimal_schema(2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        schema.optional = True  # type: ignore[misc]
    assert isinstance(schema.parameters, MappingProxyType)
    with pytest.raises(TypeError):
        schema.parameters["scale"] = "9"  # type: ignore[index]


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Schema("int32"), "must be a streamapp.data.Type"),  # type: ignore[arg-type]
        (lambda: Schema(Type.INT32, fields=(Field("a", 0, INT32_SCHEMA),)), "only struct schemas have fields"),
        (lambda: Schema(Type.STRUCT, fields=(Field("a", 1, INT32_SCHEMA),)), "has index 1 but is at position 0"),
        (lambda: struct_schema([("a", INT32_SCHEMA), ("a", STRING_SCHEMA)]), "'a' is used twice"),
        (lambda: Schema(Type.ARRAY), "needs the schema of its elements"),
        (lambda: Schema(Type.ARRAY, value_schema=INT32_SCHEMA, key_schema=INT32_SCHEMA), "has no key_schema"),
        (lambda: Schema(Type.MAP, value_schema=INT32_SCHEMA), "needs both key_schema and value_schema"),
        (lambda: Schema(Type.INT32, value_schema=INT32_SCHEMA), "only map and array schemas"),
        (lambda: Schema(Type.STRING, name=DATE_NAME), "must have type int32, not string"),
        (lambda: Schema(Type.BYTES, name=DECIMAL_NAME), "needs an integer 'scale' parameter, got None"),
        (lambda: Schema(Type.BYTES, name=DECIMAL_NAME, parameters={"scale": "x"}), "got 'x'"),
        (lambda: Schema(Type.INT32, default="five"), "default value does not match the schema"),
        (lambda: Schema(Type.INT8, default=300), "300 is out of range for int8"),
    ],
)
def test_inconsistent_schemas_are_refused(build, message):
    with pytest.raises(DataError, match=message):
        build()


def test_schema_default_may_be_a_struct_of_its_own_fields():
    base = struct_schema([("a", INT32_SCHEMA)])
    default = Struct(base, {"a": 1})
    schema = dataclasses.replace(base, default=default)
    assert schema.default == default


def test_labels_are_short_and_readable():
    assert INT32_SCHEMA.label() == "int32"
    assert decimal_schema(2).label() == "Decimal(scale=2)"
    assert DATE_SCHEMA.label() == "Date"
    assert PERSON.label() == "struct 'Person'"
    assert map_schema(STRING_SCHEMA, array_schema(INT8_SCHEMA)).label() == "map<string, array<int8>>"


def test_schema_repr_shows_only_what_is_set():
    assert repr(OPTIONAL_INT32_SCHEMA) == "Schema(Type.INT32, optional=True)"
    assert "name='Person'" in repr(PERSON) and "age: Schema(Type.INT32)" in repr(PERSON)


# ----------------------------------------------------------------------------- Struct


def test_struct_put_get_and_items_in_schema_order():
    person = Struct(PERSON).put("age", 42).put("name", "Ada")
    assert person.get("name") == "Ada" and person.get("age") == 42 and person.get("email") is None
    assert list(person.items()) == [("name", "Ada"), ("age", 42), ("email", None)]
    assert person.schema is PERSON


def test_struct_from_mapping_equals_built_by_put():
    assert Struct(PERSON, {"name": "Ada", "age": 42}) == Struct(PERSON).put("name", "Ada").put("age", 42)
    assert Struct(PERSON, {"name": "Ada", "age": 42}) != Struct(PERSON, {"name": "Ada", "age": 43})
    assert Struct(PERSON, {"name": "Ada", "age": 42}) != "Ada"


def test_struct_get_applies_field_default_but_get_without_default_does_not():
    schema = struct_schema([("n", Schema(Type.INT32, optional=True, default=7))])
    struct = Struct(schema)
    assert struct.get("n") == 7 and struct.get_without_default("n") is None
    assert list(struct.items()) == [("n", 7)]
    assert struct.raw_values() == (None,)


def test_struct_validate_names_the_missing_required_field():
    with pytest.raises(DataError, match="struct field 'age' is required but missing"):
        Struct(PERSON, {"name": "Ada"}).validate()
    Struct(PERSON, {"name": "Ada", "age": 1}).validate()


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("age", "42", "age: expected an integer for int32, got str '42'"),
        ("age", True, "age: expected an integer for int32, got bool True"),
        ("age", 2**31, "age: 2147483648 is out of range for int32 (-2147483648..2147483647)"),
        ("name", 5, "name: expected a str for string, got int 5"),
        ("name", None, "name: null value for required string"),
    ],
)
def test_struct_put_checks_the_value_against_the_field_schema(field, value, message):
    with pytest.raises(DataError) as caught:
        Struct(PERSON).put(field, value)
    assert str(caught.value) == message


def test_struct_unknown_field_lists_the_fields():
    with pytest.raises(DataError, match="'nope' is not a field of struct 'Person' \\(fields: name, age, email\\)"):
        Struct(PERSON).get("nope")


def test_struct_needs_a_struct_schema():
    with pytest.raises(DataError, match="needs a struct schema"):
        Struct(INT32_SCHEMA)


def test_struct_is_not_hashable_and_has_readable_repr():
    person = Struct(PERSON, {"name": "Ada", "age": 42})
    with pytest.raises(TypeError):
        hash(person)
    assert repr(person) == "Struct{name='Ada', age=42, email=None}"


# ----------------------------------------------------------------------------- validate_value


@pytest.mark.parametrize(
    "schema, value",
    [
        (INT8_SCHEMA, -128),
        (INT16_SCHEMA, 32767),
        (INT64_SCHEMA, 2**63 - 1),
        (FLOAT32_SCHEMA, 1.5),
        (FLOAT64_SCHEMA, 3),
        (BOOLEAN_SCHEMA, False),
        (STRING_SCHEMA, ""),
        (BYTES_SCHEMA, b"\x00"),
        (BYTES_SCHEMA, bytearray(b"x")),
        (array_schema(INT32_SCHEMA), [1, 2]),
        (array_schema(INT32_SCHEMA), (1, 2)),
        (map_schema(STRING_SCHEMA, INT32_SCHEMA), {"a": 1}),
        (decimal_schema(2), D("1.25")),
        (DATE_SCHEMA, dt.date(2024, 2, 29)),
        (TIME_SCHEMA, dt.time(23, 59, 59, 999000)),
        (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 1, tzinfo=UTC)),
        (OPTIONAL_INT32_SCHEMA, None),
        (PERSON, Struct(PERSON, {"name": "a", "age": 1})),
    ],
)
def test_validate_value_accepts_matching_values(schema, value):
    validate_value(schema, value)


@pytest.mark.parametrize(
    "schema, value, message",
    [
        (INT8_SCHEMA, 128, "128 is out of range for int8 (-128..127)"),
        (INT64_SCHEMA, 1.0, "expected an integer for int64, got float 1.0"),
        (FLOAT64_SCHEMA, "1", "expected a float for float64"),
        (BOOLEAN_SCHEMA, 1, "expected a bool for boolean, got int 1"),
        (BYTES_SCHEMA, "x", "expected bytes for bytes"),
        (array_schema(INT32_SCHEMA), [1, "2"], "[1]: expected an integer for int32"),
        (array_schema(INT32_SCHEMA), {1}, "expected a list for array<int32>"),
        (map_schema(STRING_SCHEMA, INT32_SCHEMA), {"a": "b"}, "['a']: expected an integer for int32"),
        (map_schema(STRING_SCHEMA, INT32_SCHEMA), [], "expected a mapping"),
        (decimal_schema(2), 1.5, "expected a finite decimal.Decimal for Decimal(scale=2)"),
        (decimal_schema(2), D("NaN"), "expected a finite decimal.Decimal"),
        (DATE_SCHEMA, dt.datetime(2024, 1, 1), "a Date value must be a datetime.date"),
        (TIME_SCHEMA, "12:00", "a Time value must be a datetime.time"),
        (TIMESTAMP_SCHEMA, dt.datetime(2024, 1, 1), "must be timezone-aware"),
        (INT32_SCHEMA, None, "null value for required int32"),
        (PERSON, {"name": "a"}, "expected a Struct for struct 'Person'"),
        (PERSON, Struct(struct_schema([("x", INT32_SCHEMA)]), {"x": 1}), "the struct's schema does not match"),
        (PERSON, Struct(PERSON, {"name": "a"}), "struct field 'age' is required but missing"),
    ],
)
def test_validate_value_refuses_mismatches(schema, value, message):
    with pytest.raises(DataError) as caught:
        validate_value(schema, value)
    assert message in str(caught.value)


# ----------------------------------------------------------------------------- logical types


@pytest.mark.parametrize(
    "value, scale, data",
    [
        (D("0"), 0, b"\x00"),
        (D("1.27"), 2, b"\x7f"),
        (D("1.28"), 2, b"\x00\x80"),
        (D("-1.28"), 2, b"\x80"),
        (D("-1.29"), 2, b"\xff\x7f"),
        (D("-0.01"), 2, b"\xff"),
        (D("12.30"), 2, b"\x04\xce"),
        (D("12345678901234567890.123456789"), 9, (12345678901234567890123456789).to_bytes(12, "big", signed=True)),
        (D("1E+3"), -2, b"\x0a"),
    ],
)
def test_decimal_bytes_are_java_bigdecimal_unscaled_twos_complement(value, scale, data):
    assert decimal_to_bytes(value, scale) == data
    assert decimal_from_bytes(data, scale) == value
    assert decimal_from_bytes(data, scale).as_tuple().exponent == -scale


def test_rescale_decimal_keeps_value_and_sets_scale():
    assert str(rescale_decimal(D("12.3"), 2)) == "12.30"
    assert str(rescale_decimal(7, 1)) == "7.0"
    assert rescale_decimal(D("1.50"), 1) == D("1.5")


@pytest.mark.parametrize(
    "value, message",
    [
        (D("12.345"), "decimal 12.345 has more than 2 digits after the point"),
        (D("Infinity"), "must be finite"),
        (1.5, "must be a decimal.Decimal, got float"),
        (True, "must be a decimal.Decimal, got bool"),
    ],
)
def test_rescale_decimal_refuses_loss(value, message):
    with pytest.raises(DataError, match=message):
        rescale_decimal(value, 2)


def test_decimal_from_empty_bytes_is_an_error():
    with pytest.raises(DataError, match="empty"):
        decimal_from_bytes(b"", 2)


@pytest.mark.parametrize(
    "days, date",
    [
        (0, dt.date(1970, 1, 1)),
        (-1, dt.date(1969, 12, 31)),
        (19782, dt.date(2024, 2, 29)),
        (2932896, dt.date(9999, 12, 31)),
    ],
)
def test_date_is_days_since_epoch(days, date):
    assert date_to_days(date) == days and date_from_days(days) == date


@pytest.mark.parametrize(
    "millis, time",
    [
        (0, dt.time(0)),
        (1, dt.time(0, 0, 0, 1000)),
        (86_399_999, dt.time(23, 59, 59, 999000)),
        (45_296_789, dt.time(12, 34, 56, 789000)),
    ],
)
def test_time_is_milliseconds_of_the_day(millis, time):
    assert time_to_millis(time) == millis and time_from_millis(millis) == time


def test_time_drops_sub_millisecond_digits():
    assert time_to_millis(dt.time(0, 0, 0, 1999)) == 1


@pytest.mark.parametrize(
    "millis, moment",
    [
        (0, dt.datetime(1970, 1, 1, tzinfo=UTC)),
        (-1, dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        (1704164645678, dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)),
    ],
)
def test_timestamp_is_epoch_milliseconds_in_utc(millis, moment):
    assert timestamp_to_millis(moment) == millis
    back = timestamp_from_millis(millis)
    assert back == moment and back.tzinfo is UTC


def test_timestamp_of_other_zone_is_converted():
    paris = dt.timezone(dt.timedelta(hours=1))
    assert timestamp_to_millis(dt.datetime(1970, 1, 1, 1, tzinfo=paris)) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: date_from_days(10**7), "outside years 1..9999"),
        (lambda: timestamp_from_millis(10**15), "outside years 1..9999"),
        (lambda: time_from_millis(86_400_000), "0 <= milliseconds of the day < 86400000"),
        (lambda: time_from_millis(-1), "0 <= milliseconds"),
        (lambda: time_to_millis(dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=2)))), "must be in UTC"),
        (lambda: date_to_days("2024-01-01"), "must be a datetime.date"),
        (lambda: timestamp_to_millis(dt.date(2024, 1, 1)), "must be a datetime.datetime"),
    ],
)
def test_logical_conversion_errors(call, message):
    with pytest.raises(DataError, match=message):
        call()


# ----------------------------------------------------------------------------- errors, records


def test_record_error_location_is_built_while_unwinding():
    error = DataError("expected an integer")
    error.at(3).at("items").at_key("k").in_context("JsonConverter (value)")
    assert error.location == "['k'].items[3]"
    assert str(error) == "JsonConverter (value): ['k'].items[3]: expected an integer"
    assert isinstance(error, RecordError) and isinstance(error, StreamAppError) and isinstance(error, ValueError)
    assert error.retriable is False


def test_describe_value_is_bounded():
    text = describe_value("x" * 1000)
    assert text.startswith("str 'xxx") and len(text) < 80


def test_record_is_a_slotted_immutable_value():
    record = Record("price", 1, 42, 1700000000000, "k", STRING_SCHEMA, {"v": 1}, None, headers=(("h", b"1"),))
    assert record.raw_key is None and record.raw_value is None
    assert record.coordinates() == "topic 'price' partition 1 offset 42"
    assert not hasattr(record, "__dict__")
    with pytest.raises(AttributeError):
        record.offset = 43  # type: ignore[misc]
    assert record._replace(offset=43).offset == 43
    assert "raw_value" not in repr(record)


def test_schema_and_value_is_a_pair():
    pair = SchemaAndValue(STRING_SCHEMA, "x")
    assert pair == SchemaAndValue(STRING_SCHEMA, "x") and pair.schema is STRING_SCHEMA and pair.value == "x"
