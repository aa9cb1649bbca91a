"""Connect data -> the values handed to the official Diffusion SDK, one function per topic type.

**JSON topics** (:func:`to_diffusion_json`). The SDK CBOR-encodes Python ``dict``/``list``/``str``/
``int``/``float``/``bool``/``None``/``bytes`` (``diffusion.datatypes.JSON.encode``, backed by
``diffusion_core.cbor``): dicts keep their insertion order, floats are written in the shortest
CBOR float that is exact (so float64 precision survives), ``bytes`` become CBOR byte strings,
integers must lie in -2**63..2**64-1. Connect data maps to it like this:

=====================  ===================================================================
Connect                Diffusion JSON (CBOR)
=====================  ===================================================================
int8..int64, boolean   integer, bool
float32, float64       float, full double precision (NaN and infinities pass through: CBOR
                       has them, JSON text does not)
string                 text string
bytes                  byte string (unchanged bytes, not base64)
array                  array
map with string keys   map, entries in their order
map, other keys        array of ``[key, value]`` pairs in their order, as Connect's JsonConverter
                       writes such maps (JSON object keys are text)
struct                 map, fields in schema order, defaults applied to null fields
Decimal                text string with the exact digits and the schema's scale (``"12.30"``):
                       a CBOR/JSON number would be a double for JavaScript clients, which
                       silently loses digits (``0.1 + 0.2``, amounts beyond 2**53)
Date                   ``"YYYY-MM-DD"``
Time                   ``"HH:MM:SS.mmm"``
Timestamp              ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (UTC)
=====================  ===================================================================

Fixes of the Java connector (reference 2.5): Decimal, Date, Time and Timestamp no longer fail,
bytes read back as bytes, and every failure is a :class:`ValueConversionError` (a record error
the sink's error policy handles) naming where in the value it is.

A null value returns None (a tombstone when the whole value is null); a null for a required
schema without default is an error. Careful with the SDK: ``set_topic`` takes a ``bytes`` value as
an *already encoded* CBOR payload, so a top-level BYTES value must not be passed as is to a JSON
topic; :func:`encode_diffusion_json` encodes any value with the SDK's own JSON data type, and the
sink can always pass its result.

**Other topic types**: :func:`to_diffusion_string` (text; structured values as compact JSON),
:func:`to_diffusion_int64`, :func:`to_diffusion_double`, :func:`to_diffusion_binary`: each
accepts the values that fit the type without loss and raises :class:`ValueConversionError`
saying why any other does not.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from streamapp.converters.errors import ConversionError
from streamapp.data import (
    DATE_NAME,
    DECIMAL_NAME,
    INT_RANGES,
    TIME_NAME,
    TIMESTAMP_NAME,
    DataError,
    Schema,
    Struct,
    Type,
    brief,
    date_to_days,
    describe_value,
    format_date,
    format_time,
    format_timestamp,
    rescale_decimal,
    time_to_millis,
    timestamp_to_millis,
)

__all__ = [
    "ValueConversionError",
    "to_diffusion_json",
    "to_diffusion_string",
    "to_diffusion_int64",
    "to_diffusion_double",
    "to_diffusion_binary",
    "encode_diffusion_json",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# What the SDK's CBOR encoder accepts (it raises RuntimeError outside int64_t / uint64_t).
_CBOR_INT_MIN, _CBOR_INT_MAX = -(2**63), 2**64 - 1
_UTC = _dt.UTC
_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_NUMBER_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:NaN|Infinity|inf|nan)")
_BYTES_LIKE = (bytes, bytearray, memoryview)


class ValueConversionError(ConversionError):
    """A Connect value cannot be represented in the configured Diffusion topic type."""


def _decimal_text(value: Any, scale: int | None) -> str:
    if scale is not None:
        value = rescale_decimal(value, scale)
    elif not isinstance(value, decimal.Decimal) or not value.is_finite():
        raise ValueConversionError(f"expected a finite decimal, got {describe_value(value)}")
    return format(value, "f")


# ---------------------------------------------------------------------------------- JSON


def to_diffusion_json(schema: Schema | None, value: Any) -> Any:
    """The value for a Diffusion JSON topic (see the module docstring for the mapping)."""
    try:
        return _json(schema, value)
    except ValueConversionError:
        raise
    except DataError as exc:
        raise ValueConversionError(exc.reason, location=exc.location) from None
    except RecursionError:
        raise ValueConversionError("the value is nested too deeply") from None


def _null(schema: Schema | None, convert: Any) -> Any:
    if schema is None or (schema.optional and schema.default is None):
        return None
    if schema.default is not None:
        return convert(schema, schema.default)
    raise ValueConversionError(f"null value for required {schema.label()}")


def _json(schema: Schema | None, value: Any) -> Any:  # one branch per Connect type
    if value is None:
        return _null(schema, _json)
    if schema is None:
        return _json_any(value)
    name = schema.name
    if name is not None and name in _LOGICAL_TEXT:
        return _LOGICAL_TEXT[name](schema, value)
    kind = schema.type
    if kind is Type.STRUCT:
        return _json_struct(value, schema)
    if kind is Type.STRING:
        if isinstance(value, str):
            return value
    elif kind in INT_RANGES:
        if isinstance(value, int) and not isinstance(value, bool):
            low, high = INT_RANGES[kind]
            if low <= value <= high:
                return int(value)
            raise ValueConversionError(f"{brief(value)} is out of range for {kind.value} ({low}..{high})")
    elif kind is Type.FLOAT64 or kind is Type.FLOAT32:
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            return _as_float(value)
    elif kind is Type.BOOLEAN:
        if value is True or value is False:
            return value
    elif kind is Type.BYTES:
        if isinstance(value, _BYTES_LIKE):
            return bytes(value)
    elif kind is Type.ARRAY:
        if isinstance(value, (list, tuple)):
            element = schema.value_schema
            result = []
            for index, item in enumerate(value):
                try:
                    result.append(_json(element, item))
                except DataError as exc:
                    raise exc.at(index) from None
            return result
    else:  # MAP
        if isinstance(value, Mapping):
            key_schema: Schema = schema.key_schema  # type: ignore[assignment]
            if key_schema.type is not Type.STRING:
                return _json_pairs(value, key_schema, schema.value_schema)
            return _json_mapping(value, schema.value_schema)
    raise ValueConversionError(f"expected a value of {schema.label()}, got {describe_value(value)}")


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ValueConversionError(f"{brief(value)} is too large for a double") from None


# Plain (non-logical) schema types whose Python value passes unchanged when it has exactly this
# type: the common struct fields skip the general dispatch of _json.
_PASS_THROUGH = {Type.STRING: str, Type.BOOLEAN: bool, Type.FLOAT64: float, Type.FLOAT32: float, Type.BYTES: bytes}


def _json_struct(value: Any, schema: Schema) -> dict[str, Any]:
    if not isinstance(value, Struct):
        raise ValueConversionError(f"expected a Struct for {schema.label()}, got {describe_value(value)}")
    result = {}
    for fld, item in zip(value.schema.fields, value.raw_values(), strict=True):
        field_schema = fld.schema
        if field_schema.name is None and type(item) is _PASS_THROUGH.get(field_schema.type):
            result[fld.name] = item
            continue
        try:
            result[fld.name] = _json(field_schema, item)
        except DataError as exc:
            raise exc.at(fld.name) from None
    return result


def _json_pairs(value: Mapping[Any, Any], key_schema: Schema | None, value_schema: Schema | None) -> list[list[Any]]:
    """A map whose keys are not text: ``[[key, value], ...]``, Connect's JsonConverter form."""
    result = []
    for key, item in value.items():
        try:
            pair = [_json(key_schema, key), _json(value_schema, item)]
        except DataError as exc:
            raise exc.at_key(key) from None
        result.append(pair)
    return result


def _json_mapping(value: Mapping[Any, Any], value_schema: Schema | None) -> dict[str, Any] | list[list[Any]]:
    if not all(isinstance(key, str) for key in value):
        return _json_pairs(value, None, value_schema)
    result = {}
    for key, item in value.items():
        try:
            result[key] = _json(value_schema, item)
        except DataError as exc:
            raise exc.at_key(key) from None
    return result


def _json_any(value: Any) -> Any:  # one branch per Python type
    kind = type(value)
    if kind is str or kind is float or kind is bool:
        return value
    if kind is int:
        if _CBOR_INT_MIN <= value <= _CBOR_INT_MAX:
            return value
        raise ValueConversionError(
            f"integer {brief(value)} does not fit in 64 bits (Diffusion JSON integers are CBOR 64-bit)"
        )
    if kind is dict or isinstance(value, Mapping):
        return _json_mapping(value, None)
    if kind is list or kind is tuple:
        result = []
        for index, item in enumerate(value):
            try:
                result.append(_json(None, item))
            except DataError as exc:
                raise exc.at(index) from None
        return result
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    if isinstance(value, Struct):
        return _json_struct(value, value.schema)
    if isinstance(value, decimal.Decimal):
        return _decimal_text(value, None)
    if isinstance(value, _dt.datetime):
        return format_timestamp(value)
    if isinstance(value, _dt.date):
        return format_date(value)
    if isinstance(value, _dt.time):
        return format_time(value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return _json_any(int(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return _json_any(list(value))
    raise ValueConversionError(f"{describe_value(value)} has no Diffusion JSON form")


def _logical_decimal(schema: Schema, value: Any) -> str:
    return _decimal_text(value, schema.scale)


def _logical_date(schema: Schema, value: Any) -> str:
    date_to_days(value)  # validates: a date, not a datetime
    return format_date(value)


def _logical_time(schema: Schema, value: Any) -> str:
    return format_time(value)


def _logical_timestamp(schema: Schema, value: Any) -> str:
    return format_timestamp(value)


_LOGICAL_TEXT = {
    DECIMAL_NAME: _logical_decimal,
    DATE_NAME: _logical_date,
    TIME_NAME: _logical_time,
    TIMESTAMP_NAME: _logical_timestamp,
}


def encode_diffusion_json(value: Any) -> bytes:
    """CBOR bytes of a :func:`to_diffusion_json` result, encoded by the SDK's own JSON data type.

    Pass these bytes to ``set_topic``/``add_and_set_topic`` for a JSON topic: the SDK sends a
    ``bytes`` value unchanged, which is the only way to publish a top-level byte string.
    """
    from diffusion.datatypes import JSON  # the SDK is heavy to import; only the sink needs it

    try:
        return JSON.encode(value)  # type: ignore[no-any-return]
    except (RuntimeError, TypeError, ValueError, OverflowError) as exc:
        raise ValueConversionError(f"the Diffusion SDK cannot encode the value as CBOR: {exc}") from None


# ---------------------------------------------------------------------------------- other types


_TEXT_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    separators=(",", ":"),
    check_circular=False,
    default=lambda o: base64.b64encode(o).decode("ascii") if isinstance(o, bytes) else _unencodable(o),
)


def _unencodable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_diffusion_string(schema: Schema | None, value: Any) -> str | None:
    """Text for a Diffusion STRING topic (also the text of a non-string key in a topic path).

    Strings as they are; bytes as UTF-8 text (an error if they are not UTF-8); booleans
    ``true``/``false``; numbers in their shortest exact form; Decimal, Date, Time and Timestamp in
    the forms of :func:`to_diffusion_json`; arrays, maps and structs as compact JSON text (fields
    in schema order, nested bytes as base64 as in Connect's JsonConverter).
    """
    if value is None:
        return _null(schema, to_diffusion_string)  # type: ignore[no-any-return]
    if isinstance(value, str) and (schema is None or schema.type is Type.STRING):
        return value
    if isinstance(value, _BYTES_LIKE):
        data = bytes(value)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueConversionError(
                f"bytes are not UTF-8 text (invalid byte at {exc.start}), so they have no string form; "
                f"value {data[:32]!r}{'...' if len(data) > 32 else ''}"
            ) from None
    converted = to_diffusion_json(schema, value)
    if type(converted) is str:
        return converted
    try:
        return _TEXT_ENCODER.encode(converted)
    except (TypeError, ValueError) as exc:
        raise ValueConversionError(f"{describe_value(value)} has no string form: {exc}") from None


def _what(schema: Schema | None, value: Any) -> str:
    if schema is not None:
        return f"a {schema.label()} value"
    if isinstance(value, Struct):
        return "a struct"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, (list, tuple)):
        return "an array"
    return f"a {type(value).__name__} value"


def to_diffusion_int64(schema: Schema | None, value: Any) -> int | None:
    """An integer for a Diffusion INT64 topic (-2**63..2**63-1).

    Accepts integers, integral floats and decimals, decimal integer text (``"42"``), and the
    integer forms of Connect's logical types: Date as days, Time as ms of the day, Timestamp as
    ms since the epoch.
    """
    if value is None:
        return _null(schema, to_diffusion_int64)  # type: ignore[no-any-return]
    name = schema.name if schema is not None else None
    if name == DATE_NAME or (name is None and type(value) is _dt.date):
        number: Any = _checked(date_to_days, value)
    elif name == TIME_NAME or (name is None and isinstance(value, _dt.time)):
        number = _checked(time_to_millis, value)
    elif name == TIMESTAMP_NAME or (name is None and isinstance(value, _dt.datetime)):
        number = _checked(timestamp_to_millis, value)
    elif isinstance(value, bool):
        raise ValueConversionError(f"a boolean ({value}) does not fit an INT64 topic")
    elif isinstance(value, int):
        number = int(value)
    elif isinstance(value, (float, decimal.Decimal)):
        finite = math.isfinite(value) if isinstance(value, float) else value.is_finite()
        if not finite or value != int(value):
            raise ValueConversionError(f"{brief(value)} is not an integer, so it does not fit an INT64 topic")
        number = int(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _INTEGER_TEXT.fullmatch(text):
            raise ValueConversionError(
                f"the string {value[:40]!r} is not a decimal integer, so it does not fit an INT64 topic"
            )
        number = int(text)
    else:
        raise ValueConversionError(f"{_what(schema, value)} does not fit an INT64 topic")
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueConversionError(f"{brief(number)} is beyond 64 bits; an INT64 topic holds -2**63..2**63-1")
    return number  # type: ignore[no-any-return]


def _checked(convert: Any, value: Any) -> Any:
    try:
        return convert(value)
    except ValueConversionError:
        raise
    except DataError as exc:
        raise ValueConversionError(exc.reason) from None


def to_diffusion_double(schema: Schema | None, value: Any) -> float | None:
    """A float for a Diffusion DOUBLE topic.

    Accepts floats, integers that a double holds exactly (not e.g. 2**53 + 1), decimals (to the
    nearest double), and number text (``"1.5"``, ``"NaN"``).
    """
    if value is None:
        return _null(schema, to_diffusion_double)  # type: ignore[no-any-return]
    if isinstance(value, bool):
        raise ValueConversionError(f"a boolean ({value}) does not fit a DOUBLE topic")
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if number != value:
            raise ValueConversionError(
                f"integer {brief(value)} has no exact double representation (beyond 2**53), so it does not "
                "fit a DOUBLE topic"
            )
        return number
    if isinstance(value, decimal.Decimal):
        try:
            return float(value)
        except ValueError:  # a signalling NaN
            raise ValueConversionError(f"{value} does not fit a DOUBLE topic") from None
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER_TEXT.fullmatch(text):
            raise ValueConversionError(f"the string {value[:40]!r} is not a number, so it does not fit a DOUBLE topic")
        return float(text)
    raise ValueConversionError(f"{_what(schema, value)} does not fit a DOUBLE topic")


def to_diffusion_binary(schema: Schema | None, value: Any) -> bytes | None:
    """Bytes for a Diffusion BINARY topic: bytes as they are, strings as UTF-8.

    Structured values do not fit: use a JSON topic, or ByteArrayConverter (whose value is the
    Kafka message's bytes) to pass messages through unchanged.
    """
    if value is None:
        return _null(schema, to_diffusion_binary)  # type: ignore[no-any-return]
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueConversionError(
                f"the string has {value[exc.start : exc.start + 1]!r} at {exc.start}, which has no UTF-8 form"
            ) from None
    raise ValueConversionError(
        f"{_what(schema, value)} does not fit a BINARY topic; use a JSON topic, or "
        "org.apache.kafka.connect.converters.ByteArrayConverter to pass the Kafka bytes through"
    )
