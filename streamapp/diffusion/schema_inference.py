"""Diffusion values -> Connect values with an inferred schema, for the Diffusion source.

The SDK hands values over already decoded from CBOR (``cbor2``): JSON topics give ``dict`` /
``list`` / ``str`` / ``int`` / ``float`` / ``bool`` / ``None``, CBOR byte strings give ``bytes``,
bignums give ``int`` and decimal fractions give ``decimal.Decimal``; string, int64 and double
topics give ``str`` / ``int`` / ``float`` or ``None``.

The schema follows the seed's rules (Connect's ``Values.inferSchema``): primitives, arrays whose
elements share one schema, maps (string keys) whose values share one schema; structs are never
synthesised. Unlike the Java connector it never produces a partial schema (a MAP without its value
schema): nested arrays and maps are inferred all the way down, and when any level has no single
schema the whole value is schemaless (``None``), which every converter handles. Differences from
the Java connector, on purpose:

* integers: INT32 when they fit, INT64 when they fit, otherwise a Connect ``Decimal`` of scale 0
  (the Java connector dropped the schema; big numbers arrive intact);
* floats are FLOAT64 (CBOR half/single floats are a size optimisation of the SDK, not a type);
* within an array or map, INT32 and INT64 widen to INT64, and integers mixed with floats widen to
  FLOAT64 (Java gave up on ``[1, 10000000000]``);
* CBOR byte strings are BYTES (the Java connector threw "Unknown CBOR Token");
* decimal fractions (CBOR tag 4) are a Connect ``Decimal`` with the value's scale; inside a
  schemaless value they become floats, since only a Decimal schema says how to write a decimal
  (Connect's JsonConverter refuses a ``BigDecimal`` without one, and so does ours), and a Connect
  consumer reads every non-integral number of schemaless JSON as a double anyway;
* a list or map of only nulls, an empty list or map, mixed element types, or maps with non-string
  keys are schemaless (Java threw on the all-null case).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import functools
from collections.abc import Mapping
from typing import Any

from streamapp.data import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DECIMAL_NAME,
    FLOAT64_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    STRING_SCHEMA,
    Schema,
    Type,
    array_schema,
    decimal_schema,
    map_schema,
)

__all__ = ["infer", "infer_schema", "to_connect_value"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_MAX_DEPTH = 200


def infer(value: Any) -> tuple[Schema | None, Any]:
    """(schema or None, Connect value) for a decoded Diffusion value."""
    decimals: list[bool] = []
    connect = _normalise(value, 0, decimals)
    schema = infer_schema(connect)
    if schema is None:
        if decimals:
            connect = _decimals_as_floats(connect)
    elif (
        schema.type is Type.BYTES
        and schema.name == DECIMAL_NAME
        or (schema.type in (Type.ARRAY, Type.MAP) and _has_decimal(schema))
    ):
        connect = _rescale(connect, schema)
    return schema, connect


def to_connect_value(value: Any) -> Any:
    """Normalise a decoded CBOR tree into Connect's Python value types (no schema needed)."""
    return _normalise(value, 0, [])


def _normalise(value: Any, _depth: int, decimals: list[bool]) -> Any:
    """:func:`to_connect_value`; ``decimals`` gets an entry when a (finite) Decimal is kept."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int or kind is float or kind is bytes:
        return value
    if _depth > _MAX_DEPTH:
        raise ValueError("the value is nested too deeply")
    if kind is dict or isinstance(value, Mapping):
        return {_key(k): _normalise(v, _depth + 1, decimals) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [_normalise(v, _depth + 1, decimals) for v in value]
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)  # NaN / Infinity decimals have no Connect form; keep the text
        decimals.append(True)
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()  # CBOR date/time tags: their RFC 3339 text
    if isinstance(value, (set, frozenset)):
        return [_normalise(v, _depth + 1, decimals) for v in value]
    tag_value = getattr(value, "value", _MISSING)  # cbor2 CBORTag / CBORSimpleValue
    if tag_value is not _MISSING:
        return _normalise(tag_value, _depth + 1, decimals)
    return str(value)  # undefined and other exotic CBOR items: their text, never a crash


_MISSING = object()


def _key(key: Any) -> Any:
    kind = type(key)
    if kind is str or kind is int or kind is float or kind is bool or key is None:
        return key
    if isinstance(key, (bytes, bytearray)):
        return bytes(key).hex()
    return str(key)


def infer_schema(value: Any, _depth: int = 0) -> Schema | None:
    """The inferred schema of a Connect value, or None when no complete schema fits."""
    kind = type(value)
    if value is None:
        return None
    if kind is bool:
        return BOOLEAN_SCHEMA
    if kind is str:
        return STRING_SCHEMA
    if kind is int:
        if _INT32[0] <= value <= _INT32[1]:
            return INT32_SCHEMA
        if _INT64[0] <= value <= _INT64[1]:
            return INT64_SCHEMA
        return decimal_schema(0)
    if kind is float:
        return FLOAT64_SCHEMA
    if kind is bytes:
        return BYTES_SCHEMA
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return decimal_schema(max(0, -int(exponent)))  # type: ignore[arg-type]
    if _depth > _MAX_DEPTH:
        return None
    if kind is list:
        element, optional = _common(value, _depth)
        if element is None:
            return None
        return _array_of(_with_optional(element, optional))
    if kind is dict:
        if not all(type(k) is str for k in value):
            return None
        element, optional = _common(value.values(), _depth)
        if element is None:
            return None
        return _map_of(_with_optional(element, optional))
    return None


def _common(items: Any, depth: int) -> tuple[Schema | None, bool]:
    """The one schema every non-null item fits (widening numbers), and whether any item is null."""
    common: Schema | None = None
    optional = False
    seen = False
    for item in items:
        if item is None:
            optional = True
            continue
        schema = infer_schema(item, depth + 1)
        if schema is None:
            return None, optional
        if not seen:
            common, seen = schema, True
            continue
        common = _unify(common, schema)  # type: ignore[arg-type]
        if common is None:
            return None, optional
    return common, optional


# Schemas are immutable with their hash precomputed: the few shapes a source's topics have are
# built and unified once, not once per update (they were half of the inference's cost).
@functools.lru_cache(maxsize=4096)
def _array_of(element: Schema) -> Schema:
    return array_schema(element)


@functools.lru_cache(maxsize=4096)
def _map_of(element: Schema) -> Schema:
    return map_schema(STRING_SCHEMA, element)


@functools.lru_cache(maxsize=4096)
def _unify(a: Schema, b: Schema) -> Schema | None:
    if a == b:
        return a
    if _required(a) == _required(b):
        return a if a.optional else b
    types = {a.type, b.type}
    if types <= {Type.INT32, Type.INT64} and a.name is None and b.name is None:
        return INT64_SCHEMA
    if types == {Type.INT32, Type.FLOAT64} and a.name is None and b.name is None:
        return FLOAT64_SCHEMA  # every int32 is exact as a double; larger integers are not always
    if a.name == DECIMAL_NAME and b.name == DECIMAL_NAME:
        return decimal_schema(max(a.scale or 0, b.scale or 0))
    integers = (Type.INT32, Type.INT64)
    if a.name == DECIMAL_NAME and b.type in integers and b.name is None:
        return a
    if b.name == DECIMAL_NAME and a.type in integers and a.name is None:
        return b
    return None


def _required(schema: Schema) -> Schema:
    if not schema.optional:
        return schema
    return Schema(
        schema.type,
        name=schema.name,
        parameters=schema.parameters,
        key_schema=schema.key_schema,
        value_schema=schema.value_schema,
    )


def _with_optional(schema: Schema, optional: bool) -> Schema:
    if not optional or schema.optional:
        return schema
    return Schema(
        schema.type,
        optional=True,
        name=schema.name,
        parameters=schema.parameters,
        key_schema=schema.key_schema,
        value_schema=schema.value_schema,
    )


def _has_decimal(schema: Schema | None) -> bool:
    while schema is not None:
        if schema.name == DECIMAL_NAME:
            return True
        if schema.type not in (Type.ARRAY, Type.MAP):
            return False
        schema = schema.value_schema
    return False


def _rescale(value: Any, schema: Schema) -> Any:
    """Decimals (and big integers) as ``decimal.Decimal`` of the schema's scale."""
    if value is None:
        return None
    if schema.name == DECIMAL_NAME:
        scale = schema.scale or 0
        return decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-scale), context=_CONTEXT)
    if schema.type is Type.ARRAY:
        return [_rescale(v, schema.value_schema) for v in value]  # type: ignore[arg-type]
    if schema.type is Type.MAP:
        return {k: _rescale(v, schema.value_schema) for k, v in value.items()}  # type: ignore[arg-type]
    return value


_CONTEXT = decimal.Context(prec=1000)


def _decimals_as_floats(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if type(value) is list:
        return [_decimals_as_floats(v) for v in value]
    if type(value) is dict:
        return {k: _decimals_as_floats(v) for k, v in value.items()}
    return value
