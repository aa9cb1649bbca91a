"""Connect values -> JSON trees (``dict``/``list``/``str``/``int``/``float``/``bool``/``None``).

What a KCQL projection hands to a JSON payload. The mapping is Connect's ``JsonConverter`` with
schemas disabled, except for the logical types, which become text that any JSON reader keeps
exact (the same choice as the Diffusion sink's JSON topics):

==================  ==================================================================
Connect             JSON
==================  ==================================================================
struct              object, fields in schema order, field defaults applied to nulls
map, string keys    object; other key types: an array of ``[key, value]`` pairs (as Connect)
array               array
bytes               base64 text (as Connect)
float32/float64     number; NaN and infinities are refused (JSON text has no such numbers)
Decimal             text with the exact digits, ``"4830.00"``
Date                ``"YYYY-MM-DD"``
Time                ``"HH:MM:SS.mmm"``
Timestamp           ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (UTC)
==================  ==================================================================

``ignore`` is a trie of nested fields to leave out (``{"a": {"b": ALL}}`` drops ``a.b``), so
KCQL ``IGNORE a.b`` works at any depth without copying a value twice.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import math
from collections.abc import Mapping
from typing import Any

from streamapp.data import (
    DATE_NAME,
    DECIMAL_NAME,
    TIME_NAME,
    TIMESTAMP_NAME,
    Schema,
    Struct,
    Type,
    format_date,
    format_time,
    format_timestamp,
)

from .errors import ProjectionError

__all__ = ["ALL", "IgnoreTrie", "to_json"]

ALL: Any = True  # trie leaf: leave out this field entirely
IgnoreTrie = dict  # name -> ALL | IgnoreTrie
_UTC = _dt.UTC


def _logical(name: str, value: Any) -> Any:
    if name == DECIMAL_NAME and isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ProjectionError(f"the decimal {value} has no JSON form")
        return format(value, "f")
    if name == DATE_NAME and isinstance(value, _dt.date):
        return format_date(value)
    if name == TIME_NAME and isinstance(value, _dt.time):
        return format_time(value)
    if name == TIMESTAMP_NAME and isinstance(value, _dt.datetime):
        return format_timestamp(value)
    raise ProjectionError(f"expected a value of logical type {name.rsplit('.', 1)[-1]}, got {type(value).__name__}")


def to_json(schema: Schema | None, value: Any, ignore: IgnoreTrie | None = None) -> Any:
    """The JSON tree for a Connect value (see the module docstring); raises :class:`ProjectionError`."""
    if value is None:
        return None
    if schema is not None and schema.name in _LOGICAL_NAMES:
        return _logical(schema.name, value)  # type: ignore[arg-type]
    if isinstance(value, Struct):
        result = {}
        for fld, (name, item) in zip(value.schema.fields, value.items(), strict=True):
            sub = ignore.get(name) if ignore else None
            if sub is ALL:
                continue
            try:
                result[name] = to_json(fld.schema, item, sub)
            except ProjectionError as exc:
                raise exc.at(name) from None
        return result
    if isinstance(value, Mapping):
        item_schema = schema.value_schema if schema is not None and schema.type is Type.MAP else None
        key_schema = schema.key_schema if schema is not None and schema.type is Type.MAP else None
        if key_schema is not None and key_schema.type is not Type.STRING:
            return [[to_json(key_schema, k), to_json(item_schema, v)] for k, v in value.items()]
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ProjectionError(f"a JSON object needs text keys, got the key {key!r}")
            sub = ignore.get(key) if ignore else None
            if sub is ALL:
                continue
            try:
                result[key] = to_json(item_schema, item, sub)
            except ProjectionError as exc:
                raise exc.at(key) from None
        return result
    if isinstance(value, str) or value is True or value is False:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ProjectionError(f"{value} has no JSON form (JSON numbers are finite)")
        return value
    if isinstance(value, (list, tuple)):
        item_schema = schema.value_schema if schema is not None and schema.type is Type.ARRAY else None
        result_list = []
        for index, item in enumerate(value):
            try:
                result_list.append(to_json(item_schema, item))
            except ProjectionError as exc:
                raise exc.at(index) from None
        return result_list
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, decimal.Decimal):
        return _logical(DECIMAL_NAME, value)
    if isinstance(value, _dt.datetime):
        return format_timestamp(value)
    if isinstance(value, _dt.date):
        return format_date(value)
    if isinstance(value, _dt.time):
        return format_time(value)
    raise ProjectionError(f"a {type(value).__name__} value has no JSON form")


_LOGICAL_NAMES = frozenset({DECIMAL_NAME, DATE_NAME, TIME_NAME, TIMESTAMP_NAME})
