"""The Record and Schema model shared by every converter and connector.

It mirrors Kafka Connect's data model (``org.apache.kafka.connect.data``) so that converters
(String, JSON, ByteArray, and later Avro) and connectors agree on one representation:

* :class:`Schema` is Connect's ``ConnectSchema``: a :class:`Type`, ``optional``, ``default``,
  ``name``, ``version``, ``doc``, ``parameters``, struct ``fields`` and the ``key_schema`` /
  ``value_schema`` of maps and arrays. Schemas are immutable and hashable (the hash is computed
  once, because converters use schemas as cache keys on the hot path).
* :class:`Struct` is Connect's ``Struct``: a schema plus one value per field, in field order.
* Logical types keep Connect's names and underlying types, with these Python values:

  ============  ======================================  ==========  ==============================
  logical type  schema name                             base type   Python value
  ============  ======================================  ==========  ==============================
  Decimal       ``org.apache.kafka.connect.data.Decimal``   BYTES   ``decimal.Decimal`` (parameter
                                                                    ``scale``)
  Date          ``org.apache.kafka.connect.data.Date``      INT32   ``datetime.date`` (days since
                                                                    1970-01-01)
  Time          ``org.apache.kafka.connect.data.Time``      INT32   ``datetime.time`` (ms of day)
  Timestamp     ``org.apache.kafka.connect.data.Timestamp`` INT64   aware UTC ``datetime.datetime``
                                                                    (ms since the epoch)
  ============  ======================================  ==========  ==============================

  The ``*_to_*`` / ``*_from_*`` helpers convert between a logical value and its underlying
  representation exactly like Connect's ``Decimal.fromLogical`` and friends, so the JSON and Avro
  converters share one implementation.
* Python value types per schema type: INT8..INT64 ``int`` (never ``bool``), FLOAT32/FLOAT64
  ``float`` (an ``int`` is accepted), BOOLEAN ``bool``, STRING ``str``, BYTES ``bytes`` (also
  ``bytearray``/``memoryview``), ARRAY ``list`` (or ``tuple``), MAP any ``Mapping``, STRUCT
  :class:`Struct`.
* :class:`Record` is the unit a sink maps and delivers. It is a plain slotted dataclass and does no
  validation, because one is built per Kafka message.

Errors: :class:`RecordError` is the root of every error attributable to a single record (the
connector's error policy applies: retry, skip, dead-letter, stop); :class:`DataError` is Connect's
``DataException``, a value that does not match its schema. Both carry a location inside the value
(``items[3].age``) built while the error unwinds, so the happy path pays nothing for it.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from streamapp.errors import StreamAppError

__all__ = [
    "Type",
    "Schema",
    "Field",
    "Struct",
    "SchemaAndValue",
    "Record",
    "RecordError",
    "DataError",
    # logical type names and helpers
    "DECIMAL_NAME",
    "DECIMAL_SCALE",
    "DATE_NAME",
    "TIME_NAME",
    "TIMESTAMP_NAME",
    "LOGICAL_NAMES",
    "decimal_schema",
    "struct_schema",
    "array_schema",
    "map_schema",
    "decimal_to_bytes",
    "decimal_from_bytes",
    "rescale_decimal",
    "date_to_days",
    "date_from_days",
    "time_to_millis",
    "time_from_millis",
    "timestamp_to_millis",
    "timestamp_from_millis",
    "validate_value",
    "describe_value",
    "brief",
    "INT_RANGES",
    "EPOCH",
    # primitive and logical schema constants
    "INT8_SCHEMA",
    "INT16_SCHEMA",
    "INT32_SCHEMA",
    "INT64_SCHEMA",
    "FLOAT32_SCHEMA",
    "FLOAT64_SCHEMA",
    "BOOLEAN_SCHEMA",
    "STRING_SCHEMA",
    "BYTES_SCHEMA",
    "OPTIONAL_INT8_SCHEMA",
    "OPTIONAL_INT16_SCHEMA",
    "OPTIONAL_INT32_SCHEMA",
    "OPTIONAL_INT64_SCHEMA",
    "OPTIONAL_FLOAT32_SCHEMA",
    "OPTIONAL_FLOAT64_SCHEMA",
    "OPTIONAL_BOOLEAN_SCHEMA",
    "OPTIONAL_STRING_SCHEMA",
    "OPTIONAL_BYTES_SCHEMA",
    "DATE_SCHEMA",
    "OPTIONAL_DATE_SCHEMA",
    "TIME_SCHEMA",
    "OPTIONAL_TIME_SCHEMA",
    "TIMESTAMP_SCHEMA",
    "OPTIONAL_TIMESTAMP_SCHEMA",
]


# --------------------------------------------------------------------------------------------
# Errors


class RecordError(StreamAppError):
    """An error attributable to one record: the connector's error policy decides what happens.

    ``location`` is where in the value the problem is (``items[3].age``), empty for the whole
    value; ``reason`` is the message without it. ``str()`` gives ``"<location>: <reason>"``
    preceded by any context added with :meth:`in_context` (e.g. which converter).
    """

    def __init__(self, reason: str, *, location: str = "", context: str = "") -> None:
        self.reason = reason
        self._segments: list[str] = [location] if location else []
        self.context = context
        super().__init__(self._render())

    @property
    def location(self) -> str:
        return "".join(reversed(self._segments)).lstrip(".")

    def at(self, segment: str | int) -> RecordError:
        """Prefix the location with a struct field (``str``) or an array index (``int``); returns self."""
        self._segments.append(f"[{segment}]" if isinstance(segment, int) else f".{segment}")
        self.args = (self._render(),)
        return self

    def at_key(self, key: Any) -> RecordError:
        """Prefix the location with a map key; returns self."""
        self._segments.append(f"[{_short_repr(key, 40)}]")
        self.args = (self._render(),)
        return self

    def in_context(self, context: str) -> RecordError:
        """Set the leading context (``"JsonConverter (value)"``); returns self."""
        self.context = context
        self.args = (self._render(),)
        return self

    def _render(self) -> str:
        where = self.location
        text = f"{where}: {self.reason}" if where else self.reason
        return f"{self.context}: {text}" if self.context else text

    def __str__(self) -> str:
        return self.args[0] if self.args else self.reason


class DataError(RecordError, ValueError):
    """A value does not match its schema, or a schema is inconsistent (Connect's ``DataException``)."""


# --------------------------------------------------------------------------------------------
# Schema


class Type(enum.Enum):
    """Connect schema types; the value is Connect's (and the JSON schema's) lower-case type name."""

    INT8 = "int8"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOLEAN = "boolean"
    STRING = "string"
    BYTES = "bytes"
    ARRAY = "array"
    MAP = "map"
    STRUCT = "struct"

    @property
    def is_primitive(self) -> bool:
        return self not in (Type.ARRAY, Type.MAP, Type.STRUCT)


INT_RANGES: Mapping[Type, tuple[int, int]] = MappingProxyType(
    {
        Type.INT8: (-(2**7), 2**7 - 1),
        Type.INT16: (-(2**15), 2**15 - 1),
        Type.INT32: (-(2**31), 2**31 - 1),
        Type.INT64: (-(2**63), 2**63 - 1),
    }
)

DECIMAL_NAME = "org.apache.kafka.connect.data.Decimal"
DECIMAL_SCALE = "scale"
DATE_NAME = "org.apache.kafka.connect.data.Date"
TIME_NAME = "org.apache.kafka.connect.data.Time"
TIMESTAMP_NAME = "org.apache.kafka.connect.data.Timestamp"
LOGICAL_NAMES: Mapping[str, Type] = MappingProxyType(
    {DECIMAL_NAME: Type.BYTES, DATE_NAME: Type.INT32, TIME_NAME: Type.INT32, TIMESTAMP_NAME: Type.INT64}
)
_SHORT_LOGICAL = {DECIMAL_NAME: "Decimal", DATE_NAME: "Date", TIME_NAME: "Time", TIMESTAMP_NAME: "Timestamp"}


@dataclass(frozen=True)
class Field:
    """A struct field: its name, its position in the struct, and its schema."""

    name: str
    index: int
    schema: Schema


@dataclass(frozen=True, eq=False)
class Schema:
    """A Connect schema (``ConnectSchema``); immutable, hashable, compared by value.

    Construction checks consistency (struct fields only on STRUCT, with indices matching their
    position and unique names; ARRAY needs ``value_schema``, MAP both ``key_schema`` and
    ``value_schema``; a logical name needs its base type; Decimal needs an integer ``scale``
    parameter; ``default`` must match the schema) and raises :class:`DataError`. Unlike Connect's
    ``SchemaBuilder.type(ARRAY)``, partial schemas (an array without element schema) are refused:
    they break every converter that walks the schema.
    """

    type: Type
    optional: bool = False
    default: Any = None
    name: str | None = None
    version: int | None = None
    doc: str | None = None
    parameters: Mapping[str, str] | None = None
    fields: tuple[Field, ...] = ()
    key_schema: Schema | None = None
    value_schema: Schema | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: derived attributes are set once, here
        if not isinstance(self.type, Type):
            raise DataError(f"schema type must be a streamapp.records.Type, not {self.type!r}")
        if not isinstance(self.fields, tuple):
            set_(self, "fields", tuple(self.fields))
        if self.parameters is not None and not isinstance(self.parameters, MappingProxyType):
            set_(self, "parameters", MappingProxyType(dict(self.parameters)))
        kind = self.type
        if self.fields and kind is not Type.STRUCT:
            raise DataError(f"only struct schemas have fields, not {kind.value}")
        by_name: dict[str, Field] = {}
        for position, fld in enumerate(self.fields):
            if fld.index != position:
                raise DataError(f"struct field '{fld.name}' has index {fld.index} but is at position {position}")
            if fld.name in by_name:
                raise DataError(f"struct field name '{fld.name}' is used twice")
            by_name[fld.name] = fld
        set_(self, "_by_name", by_name)
        if kind is Type.ARRAY:
            if self.value_schema is None:
                raise DataError("an array schema needs the schema of its elements (value_schema)")
            if self.key_schema is not None:
                raise DataError("an array schema has no key_schema")
        elif kind is Type.MAP:
            if self.key_schema is None or self.value_schema is None:
                raise DataError("a map schema needs both key_schema and value_schema")
        elif self.key_schema is not None or self.value_schema is not None:
            raise DataError(f"only map and array schemas have key or value schemas, not {kind.value}")
        scale = None
        if self.name in LOGICAL_NAMES:
            base = LOGICAL_NAMES[self.name]
            if kind is not base:
                raise DataError(f"logical type {self.name} must have type {base.value}, not {kind.value}")
            if self.name == DECIMAL_NAME:
                text = (self.parameters or {}).get(DECIMAL_SCALE)
                try:
                    scale = int(text)  # type: ignore[arg-type]
                except (TypeError, ValueError):
                    raise DataError(
                        f"a Decimal schema needs an integer '{DECIMAL_SCALE}' parameter, got {text!r}"
                    ) from None
        set_(self, "_scale", scale)
        set_(
            self,
            "_hash",
            hash(
                (
                    kind,
                    self.optional,
                    self.name,
                    self.version,
                    self.doc,
                    self.fields,
                    self.key_schema,
                    self.value_schema,
                )
            ),
        )
        if self.default is not None:
            try:
                validate_value(self, self.default, _default_check=True)
            except DataError as exc:
                raise DataError(f"default value does not match the schema: {exc}") from None

    # -- lookups

    def field(self, name: str) -> Field | None:
        """The struct field called ``name``, or None (like Connect's ``Schema.field``)."""
        return self._by_name.get(name)  # type: ignore[attr-defined,no-any-return]

    @property
    def scale(self) -> int | None:
        """The scale of a Decimal schema, None for any other schema."""
        return self._scale  # type: ignore[attr-defined,no-any-return]

    @property
    def logical_name(self) -> str | None:
        """The schema name if it is one of Connect's logical types, else None."""
        return self.name if self.name in LOGICAL_NAMES else None

    def label(self) -> str:
        """A short human description for messages: ``int32``, ``Decimal(scale=2)``, ``struct 'Person'``."""
        if self.name in _SHORT_LOGICAL:
            short = _SHORT_LOGICAL[self.name]
            return f"Decimal(scale={self._scale})" if short == "Decimal" else short  # type: ignore[attr-defined]
        if self.type is Type.STRUCT and self.name:
            return f"struct '{self.name}'"
        if self.type is Type.ARRAY:
            return f"array<{self.value_schema.label()}>"  # type: ignore[union-attr]
        if self.type is Type.MAP:
            return f"map<{self.key_schema.label()}, {self.value_schema.label()}>"  # type: ignore[union-attr]
        return self.type.value

    # -- value semantics (Connect's ConnectSchema.equals / hashCode)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Schema):
            return NotImplemented
        return (
            self._hash == other._hash  # type: ignore[attr-defined]
            and self.type is other.type
            and self.optional == other.optional
            and self.name == other.name
            and self.version == other.version
            and self.doc == other.doc
            and self.fields == other.fields
            and self.key_schema == other.key_schema
            and self.value_schema == other.value_schema
            and _same(self.default, other.default)
            and (self.parameters or None) == (other.parameters or None)
        )

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        parts = [f"Type.{self.type.name}"]
        for attr in ("optional", "default", "name", "version", "doc"):
            value = getattr(self, attr)
            if value not in (None, False):
                parts.append(f"{attr}={value!r}")
        if self.parameters:
            parts.append(f"parameters={dict(self.parameters)!r}")
        if self.fields:
            parts.append("fields=[" + ", ".join(f"{f.name}: {f.schema!r}" for f in self.fields) + "]")
        if self.key_schema is not None:
            parts.append(f"key_schema={self.key_schema!r}")
        if self.value_schema is not None:
            parts.append(f"value_schema={self.value_schema!r}")
        return f"Schema({', '.join(parts)})"


def _same(a: Any, b: Any) -> bool:
    # Defaults of BYTES schemas may be bytes vs bytearray; == handles that. NaN defaults compare
    # by identity first so a schema equals itself.
    return a is b or a == b


def struct_schema(
    fields: Iterable[tuple[str, Schema]] | Mapping[str, Schema],
    *,
    name: str | None = None,
    optional: bool = False,
    default: Any = None,
    version: int | None = None,
    doc: str | None = None,
    parameters: Mapping[str, str] | None = None,
) -> Schema:
    """A STRUCT schema from ``(name, schema)`` pairs in order (field indices are assigned)."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return Schema(
        Type.STRUCT,
        optional=optional,
        default=default,
        name=name,
        version=version,
        doc=doc,
        parameters=parameters,
        fields=tuple(Field(n, i, s) for i, (n, s) in enumerate(pairs)),
    )


def array_schema(
    value_schema: Schema, *, optional: bool = False, default: Any = None, name: str | None = None
) -> Schema:
    return Schema(Type.ARRAY, optional=optional, default=default, name=name, value_schema=value_schema)


def map_schema(
    key_schema: Schema, value_schema: Schema, *, optional: bool = False, default: Any = None, name: str | None = None
) -> Schema:
    return Schema(
        Type.MAP, optional=optional, default=default, name=name, key_schema=key_schema, value_schema=value_schema
    )


def decimal_schema(scale: int, *, optional: bool = False, default: Any = None, version: int | None = None) -> Schema:
    """Connect's ``Decimal.schema(scale)``: BYTES named ``org.apache.kafka.connect.data.Decimal``."""
    return Schema(
        Type.BYTES,
        optional=optional,
        default=default,
        name=DECIMAL_NAME,
        version=version,
        parameters={DECIMAL_SCALE: str(scale)},
    )


INT8_SCHEMA = Schema(Type.INT8)
INT16_SCHEMA = Schema(Type.INT16)
INT32_SCHEMA = Schema(Type.INT32)
INT64_SCHEMA = Schema(Type.INT64)
FLOAT32_SCHEMA = Schema(Type.FLOAT32)
FLOAT64_SCHEMA = Schema(Type.FLOAT64)
BOOLEAN_SCHEMA = Schema(Type.BOOLEAN)
STRING_SCHEMA = Schema(Type.STRING)
BYTES_SCHEMA = Schema(Type.BYTES)
OPTIONAL_INT8_SCHEMA = Schema(Type.INT8, optional=True)
OPTIONAL_INT16_SCHEMA = Schema(Type.INT16, optional=True)
OPTIONAL_INT32_SCHEMA = Schema(Type.INT32, optional=True)
OPTIONAL_INT64_SCHEMA = Schema(Type.INT64, optional=True)
OPTIONAL_FLOAT32_SCHEMA = Schema(Type.FLOAT32, optional=True)
OPTIONAL_FLOAT64_SCHEMA = Schema(Type.FLOAT64, optional=True)
OPTIONAL_BOOLEAN_SCHEMA = Schema(Type.BOOLEAN, optional=True)
OPTIONAL_STRING_SCHEMA = Schema(Type.STRING, optional=True)
OPTIONAL_BYTES_SCHEMA = Schema(Type.BYTES, optional=True)
DATE_SCHEMA = Schema(Type.INT32, name=DATE_NAME, version=1)
OPTIONAL_DATE_SCHEMA = Schema(Type.INT32, optional=True, name=DATE_NAME, version=1)
TIME_SCHEMA = Schema(Type.INT32, name=TIME_NAME, version=1)
OPTIONAL_TIME_SCHEMA = Schema(Type.INT32, optional=True, name=TIME_NAME, version=1)
TIMESTAMP_SCHEMA = Schema(Type.INT64, name=TIMESTAMP_NAME, version=1)
OPTIONAL_TIMESTAMP_SCHEMA = Schema(Type.INT64, optional=True, name=TIMESTAMP_NAME, version=1)


# --------------------------------------------------------------------------------------------
# Logical types: value <-> underlying representation (Connect's toLogical / fromLogical)

EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EPOCH_DATE = _dt.date(1970, 1, 1)
_ONE_MS = _dt.timedelta(milliseconds=1)
_MS_PER_DAY = 86_400_000
# Exact arithmetic for decimals of any size: quantize/scaleb never round with this context.
_EXACT = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def rescale_decimal(value: decimal.Decimal | int, scale: int) -> decimal.Decimal:
    """``value`` with exactly ``scale`` digits after the point; DataError if that would round.

    Connect requires a BigDecimal's scale to equal the schema's. Python decimals carry their own
    exponent (``Decimal('12.3')`` has scale 1), so values are rescaled when no digit is lost
    (12.3 -> 12.30 for scale 2) and refused when one would be (12.345 for scale 2).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = decimal.Decimal(value)
    if not isinstance(value, decimal.Decimal):
        raise DataError(f"a Decimal value must be a decimal.Decimal, got {describe_value(value)}")
    if not value.is_finite():
        raise DataError(f"a Decimal value must be finite, got {brief(value)}")
    if value.as_tuple().exponent == -scale:
        return value
    rescaled = value.quantize(decimal.Decimal(1).scaleb(-scale), context=_EXACT)
    if rescaled != value:
        raise DataError(f"decimal {brief(value)} has more than {scale} digits after the point (the schema's scale)")
    return rescaled


def decimal_to_bytes(value: decimal.Decimal | int, scale: int) -> bytes:
    """The unscaled value as big-endian two's complement, minimal length (Java's ``BigInteger.toByteArray``)."""
    unscaled = int(rescale_decimal(value, scale).scaleb(scale, context=_EXACT))
    length = ((unscaled if unscaled >= 0 else ~unscaled).bit_length() + 8) // 8
    return unscaled.to_bytes(length, "big", signed=True)


def decimal_from_bytes(data: bytes, scale: int) -> decimal.Decimal:
    """Connect's ``Decimal.toLogical``: two's complement unscaled bytes -> Decimal with ``scale``."""
    if not data:
        raise DataError("Decimal bytes are empty (a decimal needs at least one byte)")
    unscaled = int.from_bytes(data, "big", signed=True)
    return decimal.Decimal(unscaled).scaleb(-scale, context=_EXACT)


def date_to_days(value: _dt.date) -> int:
    if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
        raise DataError(f"a Date value must be a datetime.date, got {describe_value(value)}")
    return (value - _EPOCH_DATE).days


def date_from_days(days: int) -> _dt.date:
    try:
        return _EPOCH_DATE + _dt.timedelta(days=days)
    except OverflowError:
        raise DataError(f"Date {brief(days)} days from 1970-01-01 is outside years 1..9999") from None


def time_to_millis(value: _dt.time) -> int:
    """Milliseconds since midnight; sub-millisecond digits are dropped (Connect's Time has ms precision)."""
    if not isinstance(value, _dt.time):
        raise DataError(f"a Time value must be a datetime.time, got {describe_value(value)}")
    offset = value.utcoffset()
    if offset:
        raise DataError(f"a Time value must be in UTC (or naive), got offset {offset}")
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1000 + value.microsecond // 1000


def time_from_millis(millis: int) -> _dt.time:
    if not 0 <= millis < _MS_PER_DAY:
        raise DataError(f"Time must be 0 <= milliseconds of the day < 86400000, got {brief(millis)}")
    seconds, ms = divmod(millis, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return _dt.time(hour, minute, second, ms * 1000)


def timestamp_to_millis(value: _dt.datetime) -> int:
    """Milliseconds since the epoch, floored; the datetime must be timezone-aware."""
    if not isinstance(value, _dt.datetime):
        raise DataError(f"a Timestamp value must be a datetime.datetime, got {describe_value(value)}")
    if value.utcoffset() is None:
        raise DataError(f"a Timestamp value must be timezone-aware (naive datetime {value.isoformat()})")
    return (value - EPOCH) // _ONE_MS


def timestamp_from_millis(millis: int) -> _dt.datetime:
    try:
        return EPOCH + _dt.timedelta(milliseconds=millis)
    except OverflowError:
        raise DataError(f"Timestamp {brief(millis)} ms since the epoch is outside years 1..9999") from None


# --------------------------------------------------------------------------------------------
# Validation (Connect's ConnectSchema.validateValue)


def describe_value(value: Any, limit: int = 60) -> str:
    """``"<type> <short repr>"`` for messages, never longer than about ``limit`` characters."""
    kind = "Struct" if isinstance(value, Struct) else type(value).__name__
    return f"{kind} {_short_repr(value, limit)}"


def brief(value: Any, limit: int = 40) -> str:
    """``str(value)`` cut to about ``limit`` characters: numbers in messages can have thousands of digits."""
    text = str(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}... ({len(text)} characters)"


def _short_repr(value: Any, limit: int) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validate_value(schema: Schema, value: Any, *, _default_check: bool = False) -> None:
    """Raise :class:`DataError` unless ``value`` matches ``schema`` (recursively)."""
    if value is None:
        if schema.optional or schema.default is not None:
            return
        raise DataError(f"null value for required {schema.label()}")
    logical = schema.name if schema.name in LOGICAL_NAMES else None
    if logical is not None:
        if logical == DECIMAL_NAME:
            if not isinstance(value, decimal.Decimal) or not value.is_finite():
                raise DataError(f"expected a finite decimal.Decimal for {schema.label()}, got {describe_value(value)}")
        elif logical == DATE_NAME:
            date_to_days(value)
        elif logical == TIME_NAME:
            time_to_millis(value)
        else:
            timestamp_to_millis(value)
        return
    kind = schema.type
    if kind in INT_RANGES:
        if type(value) is bool or not isinstance(value, int):
            raise DataError(f"expected an integer for {kind.value}, got {describe_value(value)}")
        low, high = INT_RANGES[kind]
        if not low <= value <= high:
            raise DataError(f"{brief(value)} is out of range for {kind.value} ({low}..{high})")
    elif kind is Type.FLOAT32 or kind is Type.FLOAT64:
        if type(value) is bool or not isinstance(value, (float, int)):
            raise DataError(f"expected a float for {kind.value}, got {describe_value(value)}")
    elif kind is Type.BOOLEAN:
        if type(value) is not bool:
            raise DataError(f"expected a bool for boolean, got {describe_value(value)}")
    elif kind is Type.STRING:
        if not isinstance(value, str):
            raise DataError(f"expected a str for string, got {describe_value(value)}")
    elif kind is Type.BYTES:
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise DataError(f"expected bytes for bytes, got {describe_value(value)}")
    elif kind is Type.ARRAY:
        if not isinstance(value, (list, tuple)):
            raise DataError(f"expected a list for {schema.label()}, got {describe_value(value)}")
        element = schema.value_schema
        for index, item in enumerate(value):
            try:
                validate_value(element, item)  # type: ignore[arg-type]
            except DataError as exc:
                raise exc.at(index) from None
    elif kind is Type.MAP:
        if not isinstance(value, Mapping):
            raise DataError(f"expected a mapping for {schema.label()}, got {describe_value(value)}")
        for key, item in value.items():
            try:
                validate_value(schema.key_schema, key)  # type: ignore[arg-type]
                validate_value(schema.value_schema, item)  # type: ignore[arg-type]
            except DataError as exc:
                raise exc.at_key(key) from None
    else:  # STRUCT
        if not isinstance(value, Struct):
            raise DataError(f"expected a Struct for {schema.label()}, got {describe_value(value)}")
        if not _same_struct_schema(value.schema, schema, ignore_default=_default_check):
            raise DataError(f"the struct's schema does not match {schema.label()}: {value.schema!r}")
        value.validate()


def _same_struct_schema(actual: Schema, expected: Schema, *, ignore_default: bool) -> bool:
    if actual is expected or actual == expected:
        return True
    # A struct used as the default of its own schema can only carry the schema without that
    # default (the schema with it does not exist yet), as with Connect's SchemaBuilder.
    return ignore_default and actual.fields == expected.fields and actual.name == expected.name


# --------------------------------------------------------------------------------------------
# Struct


class Struct:
    """A Connect struct: a STRUCT schema plus one value per field, in field order.

    ``put`` validates the value against the field's schema (like Connect); ``get`` returns the
    field's default when the value is null (like Connect's ``Struct.get``), ``get_without_default``
    does not; :meth:`validate` checks that every required field without default is set. Two
    structs are equal when their schemas and values are equal. Structs are mutable, hence not
    hashable.
    """

    __slots__ = ("_schema", "_values")

    def __init__(self, schema: Schema, values: Mapping[str, Any] | None = None) -> None:
        if not isinstance(schema, Schema) or schema.type is not Type.STRUCT:
            raise DataError(f"a Struct needs a struct schema, got {schema!r}")
        self._schema = schema
        self._values: list[Any] = [None] * len(schema.fields)
        if values:
            for name, value in values.items():
                self.put(name, value)

    @classmethod
    def _trusted(cls, schema: Schema, values: list[Any]) -> Struct:
        """A struct from values already known to match (converters' hot path): no checks."""
        struct = cls.__new__(cls)
        struct._schema = schema
        struct._values = values
        return struct

    @property
    def schema(self) -> Schema:
        return self._schema

    def _field(self, name: str) -> Field:
        fld = self._schema.field(name)
        if fld is None:
            names = ", ".join(f.name for f in self._schema.fields)
            raise DataError(f"'{name}' is not a field of {self._schema.label()} (fields: {names})")
        return fld

    def put(self, name: str, value: Any) -> Struct:
        """Set field ``name`` after checking ``value`` against its schema; returns self for chaining."""
        fld = self._field(name)
        try:
            validate_value(fld.schema, value)
        except DataError as exc:
            raise exc.at(name) from None
        self._values[fld.index] = value
        return self

    def get(self, name: str) -> Any:
        """The field's value, or its schema default when the value is null."""
        fld = self._field(name)
        value = self._values[fld.index]
        return fld.schema.default if value is None else value

    def get_without_default(self, name: str) -> Any:
        return self._values[self._field(name).index]

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` in schema field order, with defaults applied as by :meth:`get`."""
        for fld, value in zip(self._schema.fields, self._values, strict=True):
            yield fld.name, (fld.schema.default if value is None else value)

    def raw_values(self) -> tuple[Any, ...]:
        """The stored values in field order, defaults not applied."""
        return tuple(self._values)

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first field whose value does not fit (e.g. required but unset)."""
        for fld, value in zip(self._schema.fields, self._values, strict=True):
            if value is None:
                if fld.schema.optional or fld.schema.default is not None:
                    continue
                raise DataError(f"struct field '{fld.name}' is required but missing")
            try:
                validate_value(fld.schema, value)
            except DataError as exc:
                raise exc.at(fld.name) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Struct):
            return NotImplemented
        return self._schema == other._schema and self._values == other._values

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{f.name}={v!r}" for f, v in zip(self._schema.fields, self._values, strict=True))
        return f"Struct{{{inner}}}"


# --------------------------------------------------------------------------------------------
# Values and records


# Both are NamedTuples, immutable like frozen dataclasses, because one of each is built per record
# and per converted key and value: a frozen dataclass sets each field through object.__setattr__
# (~0.2 us a field), a NamedTuple is one tuple construction.


class SchemaAndValue(NamedTuple):
    """What a converter produces: a schema (None when the data carries none) and the value."""

    schema: Schema | None
    value: Any


class Record(NamedTuple):
    """One Kafka message after conversion: what a sink maps and delivers.

    ``timestamp`` is in epoch milliseconds; ``raw_key``/``raw_value`` keep the bytes as read from
    Kafka (for dead-letter topics and pass-through). No validation: one is built per message.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: Any
    key_schema: Schema | None
    value: Any
    value_schema: Schema | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    raw_key: bytes | None = None
    raw_value: bytes | None = None

    def __repr__(self) -> str:  # without the raw bytes, which can be megabytes
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields[:9])
        return f"Record({shown})"

    def coordinates(self) -> str:
        """``topic 'price' partition 0 offset 42``, for messages."""
        return f"topic '{self.topic}' partition {self.partition} offset {self.offset}"
