"""Connect's Schema, Field and Struct, the schema builders and constants, and value validation."""

from __future__ import annotations

import decimal
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import DataError
from .logical import date_to_days, time_to_millis, timestamp_to_millis
from .text import brief, describe_value
from .types import (
    _SHORT_LOGICAL,
    DATE_NAME,
    DECIMAL_NAME,
    DECIMAL_SCALE,
    INT_RANGES,
    LOGICAL_NAMES,
    TIME_NAME,
    TIMESTAMP_NAME,
    Type,
)


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
            raise DataError(f"schema type must be a streamapp.data.Type, not {self.type!r}")
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
# Validation (Connect's ConnectSchema.validateValue)


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

    The values are a dict of every field name, in field order: the shape fastavro and JSON
    decoding produce, so a decoded record becomes a Struct without copying its fields.
    """

    __slots__ = ("_schema", "_values")

    def __init__(self, schema: Schema, values: Mapping[str, Any] | None = None) -> None:
        if not isinstance(schema, Schema) or schema.type is not Type.STRUCT:
            raise DataError(f"a Struct needs a struct schema, got {schema!r}")
        self._schema = schema
        self._values: dict[str, Any] = dict.fromkeys(f.name for f in schema.fields)
        if values:
            for name, value in values.items():
                self.put(name, value)

    @classmethod
    def _trusted(cls, schema: Schema, values: dict[str, Any]) -> Struct:
        """A struct from values already known to match (converters' hot path): no checks.

        ``values`` maps every field name to its value, in field order, and becomes the struct's.
        """
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
        self._values[fld.name] = value
        return self

    def get(self, name: str) -> Any:
        """The field's value, or its schema default when the value is null."""
        fld = self._field(name)
        value = self._values[name]
        return fld.schema.default if value is None else value

    def get_without_default(self, name: str) -> Any:
        return self._values[self._field(name).name]

    def items(self) -> Iterator[tuple[str, Any]]:
        """``(name, value)`` in schema field order, with defaults applied as by :meth:`get`."""
        for fld, value in zip(self._schema.fields, self._values.values(), strict=True):
            yield fld.name, (fld.schema.default if value is None else value)

    def raw_values(self) -> tuple[Any, ...]:
        """The stored values in field order, defaults not applied."""
        return tuple(self._values.values())

    def validate(self) -> None:
        """Raise :class:`DataError` naming the first field whose value does not fit (e.g. required but unset)."""
        for fld, value in zip(self._schema.fields, self._values.values(), strict=True):
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
        inner = ", ".join(f"{f.name}={v!r}" for f, v in zip(self._schema.fields, self._values.values(), strict=True))
        return f"Struct{{{inner}}}"
