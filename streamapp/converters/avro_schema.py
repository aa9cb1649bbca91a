"""Avro schemas <-> Connect schemas, the way Confluent's ``AvroData`` maps them.

Reading (:func:`avro_to_connect`): an Avro writer schema (parsed JSON) becomes a Connect
:class:`~streamapp.records.Schema` plus a *value adapter* that turns what fastavro's
``schemaless_reader`` returns into Connect values. The mapping:

=====================================  ===========================================================
Avro                                   Connect
=====================================  ===========================================================
boolean / int / long / float / double  BOOLEAN / INT32 / INT64 / FLOAT32 / FLOAT64 (``int`` with
                                       ``"connect.type": "int8"|"int16"`` gives INT8 / INT16)
string / bytes                         STRING / BYTES
record                                 STRUCT named by the record's full name, fields in order,
                                       field defaults kept
enum                                   STRING named by the enum's full name, parameters
                                       ``io.confluent.connect.avro.Enum`` (+ one per symbol)
fixed                                  BYTES named by its full name, parameter
                                       ``connect.fixed.size``
array / map                            ARRAY / MAP with STRING keys
``["null", X]`` (either order)         X, optional
other unions                           STRUCT ``io.confluent.connect.avro.Union`` with one
                                       optional field per branch, the value's branch set
decimal (bytes or fixed)               Decimal (``scale`` and ``connect.decimal.precision``)
date / time-millis / timestamp-millis  Date / Time / Timestamp
time-micros / timestamp-micros,        INT64 (resp. STRING for uuid), the raw number: Connect has
local-timestamp-*, uuid                no microsecond logical types, and Confluent's AvroData
                                       passes these through unchanged too
=====================================  ===========================================================

fastavro applies an Avro logical type while decoding whenever the schema names it, so the reader
gets a copy of the writer schema without the logical types Connect does not map (the binary
encoding does not depend on them). What fastavro returns for the mapped ones (``Decimal`` with
the schema's scale, ``date``, ``time``, UTC-aware ``datetime``) is already the Connect value.

Records come back from fastavro as dicts in writer field order, so a record of primitives is
adapted with one ``list(d.values())``: the adapter for a subtree is ``None`` wherever the value
needs no change, and only the parts that do are walked.

Writing (:func:`connect_to_avro`): a Connect schema becomes an Avro schema (unnamed structs get
Confluent's ``io.confluent.connect.avro.ConnectDefault`` names, INT8/INT16 carry
``connect.type``, optional schemas become ``["null", X]`` with a null default, maps with
non-string keys become arrays of ``MapEntry`` records) plus an adapter from Connect values to
what fastavro's ``schemaless_writer`` takes.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamapp.records import (
    DATE_NAME,
    DECIMAL_NAME,
    DECIMAL_SCALE,
    TIME_NAME,
    TIMESTAMP_NAME,
    DataError,
    Field,
    Schema,
    Struct,
    Type,
    decimal_from_bytes,
    describe_value,
)

__all__ = [
    "ENUM_PARAMETER",
    "FIXED_SIZE_PARAMETER",
    "PRECISION_PARAMETER",
    "UNION_NAME",
    "AvroSchemaError",
    "ReadMapping",
    "WriteMapping",
    "avro_to_connect",
    "connect_to_avro",
]

Adapter = Callable[[Any], Any]

UNION_NAME = "io.confluent.connect.avro.Union"
ENUM_PARAMETER = "io.confluent.connect.avro.Enum"
FIXED_SIZE_PARAMETER = "connect.fixed.size"
PRECISION_PARAMETER = "connect.decimal.precision"
_DEFAULT_NAMESPACE = "io.confluent.connect.avro"
_MAP_ENTRY = "MapEntry"
_DEFAULT_PRECISION = 64  # Confluent's default when a Connect Decimal has no precision parameter

_PRIMITIVES: dict[str, Type] = {
    "boolean": Type.BOOLEAN,
    "int": Type.INT32,
    "long": Type.INT64,
    "float": Type.FLOAT32,
    "double": Type.FLOAT64,
    "bytes": Type.BYTES,
    "string": Type.STRING,
}
_CONNECT_TYPES = {"int8": Type.INT8, "int16": Type.INT16}
# Logical types Connect maps; fastavro's decoded value is the Connect value as is.
_MAPPED_LOGICAL = {("int", "date"), ("int", "time-millis"), ("long", "timestamp-millis")}


_NEW = object.__new__


class AvroSchemaError(DataError):
    """An Avro schema Connect data cannot represent (or a Connect schema Avro cannot)."""


@dataclass(frozen=True)
class ReadMapping:
    """A writer schema made ready for decoding: Connect schema, fastavro reader schema, adapter."""

    schema: Schema
    reader_schema: Any  # writer schema minus unmapped logical types, for fastavro.parse_schema
    adapt: Adapter | None  # fastavro value -> Connect value; None: the value is already Connect's


@dataclass(frozen=True)
class WriteMapping:
    avro: Any  # the Avro schema JSON (dict, list or str)
    adapt: Adapter | None  # Connect value -> fastavro value; None: identity


# ============================================================================================
# Avro -> Connect


def avro_to_connect(avro: Any, *, version: int | None = None) -> ReadMapping:
    """Map a writer schema (parsed JSON); ``version`` (the registry version) goes on the top schema."""
    reader = copy.deepcopy(avro)
    schema, adapt = _ReadBuilder().node(reader, "", version=version)
    return ReadMapping(schema, reader, adapt)


def _full_name(name: str, namespace: str) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


class _ReadBuilder:
    """Walks a writer schema once. ``optional`` and ``version`` are passed down to the schema
    they apply to, because a struct's adapter builds structs carrying that exact schema (Connect
    checks a struct's schema by equality, optional flag and version included)."""

    def __init__(self) -> None:
        # full name -> (schema, adapter, field adapters of a record), for references by name
        self.named: dict[str, tuple[Schema, Adapter | None, list[tuple[int, Adapter]] | None]] = {}
        self.defining: set[str] = set()

    def node(
        self, avro: Any, namespace: str, *, optional: bool = False, version: int | None = None
    ) -> tuple[Schema, Adapter | None]:
        if isinstance(avro, str):
            if avro in _PRIMITIVES:
                return Schema(_PRIMITIVES[avro], optional=optional, version=version), None
            if avro == "null":
                raise AvroSchemaError("a 'null' Avro schema outside a union has no Connect equivalent")
            return self.reference(avro, namespace, optional, version)
        if isinstance(avro, list):
            return self.union(avro, namespace, optional, version)
        if not isinstance(avro, dict) or "type" not in avro:
            raise AvroSchemaError(f"not an Avro schema: {describe_value(avro)}")
        kind = avro["type"]
        logical = avro.get("logicalType")
        if logical is not None:
            mapped = self.logical(avro, kind, logical, optional)
            if mapped is not None:
                return mapped, None
        if kind in _PRIMITIVES:
            base = _CONNECT_TYPES.get(avro.get("connect.type"), Type.INT32) if kind == "int" else _PRIMITIVES[kind]
            schema = Schema(
                base,
                optional=optional,
                version=version,
                name=avro.get("connect.name"),
                parameters=avro.get("connect.parameters") or None,
            )
            return schema, None
        if kind == "record" or kind == "error":
            return self.record(avro, namespace, optional, version)
        if kind == "enum":
            name = _full_name(avro["name"], avro.get("namespace", namespace))
            params = {ENUM_PARAMETER: name}
            params.update({f"{ENUM_PARAMETER}.{s}": s for s in avro.get("symbols", ())})
            schema = Schema(Type.STRING, name=name, doc=avro.get("doc"), parameters=params)
            self.named[name] = (schema, None, None)
            return _adjust(schema, optional, version), None
        if kind == "fixed":
            name = _full_name(avro["name"], avro.get("namespace", namespace))
            schema = Schema(Type.BYTES, name=name, parameters={FIXED_SIZE_PARAMETER: str(avro["size"])})
            self.named[name] = (schema, None, None)
            return _adjust(schema, optional, version), None
        if kind == "array":
            items, adapt = self.node(avro["items"], namespace)
            schema = Schema(Type.ARRAY, optional=optional, version=version, value_schema=items)
            if adapt is None:
                return schema, None
            if items.optional:
                return schema, lambda value: [None if item is None else adapt(item) for item in value]
            return schema, lambda value: list(map(adapt, value))
        if kind == "map":
            values, adapt = self.node(avro["values"], namespace)
            schema = Schema(
                Type.MAP, optional=optional, version=version, key_schema=Schema(Type.STRING), value_schema=values
            )
            if adapt is None:
                return schema, None
            if values.optional:
                return schema, lambda value: {k: None if v is None else adapt(v) for k, v in value.items()}
            return schema, lambda value: {k: adapt(v) for k, v in value.items()}
        if isinstance(kind, (dict, list)):  # {"type": {"type": "array", ...}}
            return self.node(kind, namespace, optional=optional, version=version)
        if isinstance(kind, str) and kind != "null":
            return self.reference(kind, namespace, optional, version)
        raise AvroSchemaError(f"unsupported Avro type {kind!r}")

    def reference(
        self, name: str, namespace: str, optional: bool, version: int | None
    ) -> tuple[Schema, Adapter | None]:
        for candidate in (_full_name(name, namespace), name):
            if candidate in self.defining:
                raise AvroSchemaError(f"recursive Avro record '{candidate}' has no Connect equivalent")
            if candidate in self.named:
                schema, adapt, field_adapters = self.named[candidate]
                if not optional and version is None:
                    return schema, adapt
                schema = _adjust(schema, optional, version)
                if field_adapters is not None:
                    adapt = self.struct_adapter(schema, field_adapters)
                return schema, adapt
        raise AvroSchemaError(f"unknown Avro type name '{name}'")

    def logical(self, avro: dict, kind: Any, logical: str, optional: bool) -> Schema | None:
        if logical == "decimal" and kind in ("bytes", "fixed"):
            scale = int(avro.get("scale", 0))
            params = {DECIMAL_SCALE: str(scale), PRECISION_PARAMETER: str(avro.get("precision", ""))}
            if kind == "fixed":
                params[FIXED_SIZE_PARAMETER] = str(avro["size"])
            return Schema(Type.BYTES, optional=optional, name=DECIMAL_NAME, version=1, parameters=params)
        if (kind, logical) in _MAPPED_LOGICAL:
            name = {"date": DATE_NAME, "time-millis": TIME_NAME, "timestamp-millis": TIMESTAMP_NAME}[logical]
            return Schema(_PRIMITIVES[kind], optional=optional, name=name, version=1)
        # Connect has no logical type for it: the raw Avro value (and fastavro must not convert).
        del avro["logicalType"]
        return None

    def union(
        self, branches: list, namespace: str, optional: bool, version: int | None
    ) -> tuple[Schema, Adapter | None]:
        others = [b for b in branches if b != "null" and not (isinstance(b, dict) and b.get("type") == "null")]
        nullable = optional or len(others) < len(branches)
        if not others:
            raise AvroSchemaError("a union of only 'null' has no Connect equivalent")
        if len(others) == 1:
            return self.node(others[0], namespace, optional=nullable, version=version)
        members: list[tuple[str, Schema, Adapter | None]] = []
        for branch in others:
            schema, adapt = self.node(branch, namespace, optional=True)
            members.append((_member_name(branch, schema), schema, adapt))
        schema = Schema(
            Type.STRUCT,
            optional=nullable,
            version=version,
            name=UNION_NAME,
            fields=tuple(Field(name, i, s) for i, (name, s, _) in enumerate(members)),
        )
        return schema, _union_adapter(schema, members)

    def record(
        self, avro: dict, namespace: str, optional: bool, version: int | None
    ) -> tuple[Schema, Adapter | None]:
        name = _full_name(avro["name"], avro.get("namespace", namespace))
        record_namespace = name.rsplit(".", 1)[0] if "." in name else ""
        self.defining.add(name)
        fields: list[Field] = []
        adapters: list[tuple[int, Adapter]] = []
        for index, spec in enumerate(avro.get("fields", ())):
            try:
                schema, adapt = self.node(spec["type"], record_namespace)
            except AvroSchemaError as exc:
                raise exc.at(spec.get("name", "?")) from None
            if spec.get("default") is not None:
                schema = _with_default(schema, spec["type"], spec["default"])
            fields.append(Field(spec["name"], index, schema))
            if adapt is not None:
                adapters.append((index, adapt))
        self.defining.discard(name)
        plain = Schema(Type.STRUCT, name=name, doc=avro.get("doc"), fields=tuple(fields))
        self.named[name] = (plain, self.struct_adapter(plain, adapters), adapters)
        schema = _adjust(plain, optional, version)
        return schema, self.struct_adapter(schema, adapters)

    @staticmethod
    def struct_adapter(schema: Schema, adapters: list[tuple[int, Adapter]]) -> Adapter:
        # Struct._trusted, inlined: on the decoding hot path its classmethod call costs as much
        # as the rest of the adapter (see bench/avro_converter.py). Python 3.11 specialises the
        # two slot stores.
        new = _NEW
        if not adapters:
            # fastavro returns the fields in writer order: the dict's values are the struct's.
            def adapt_plain(value: dict) -> Struct:
                struct = new(Struct)
                struct._schema = schema
                struct._values = list(value.values())
                return struct

            return adapt_plain

        # Avro data has every field, so only optional ones can be None.
        required = [(i, a) for i, a in adapters if not schema.fields[i].schema.optional]
        optional = [(i, a) for i, a in adapters if schema.fields[i].schema.optional]

        def adapt(value: dict) -> Struct:
            values = list(value.values())
            for index, field_adapt in required:
                values[index] = field_adapt(values[index])
            for index, field_adapt in optional:
                item = values[index]
                if item is not None:
                    values[index] = field_adapt(item)
            struct = new(Struct)
            struct._schema = schema
            struct._values = values
            return struct

        return adapt


def _adjust(schema: Schema, optional: bool, version: int | None) -> Schema:
    if not optional and version is None:
        return schema
    return dataclasses.replace(schema, optional=optional or schema.optional, version=version)


def _member_name(branch: Any, schema: Schema) -> str:
    """Confluent's union field names: the type name, or a named type's simple name."""
    if isinstance(branch, dict):
        if "name" in branch:
            return branch["name"].rsplit(".", 1)[-1]
        kind = branch.get("type")
        if isinstance(kind, str):
            return kind
    if isinstance(branch, str):
        return branch.rsplit(".", 1)[-1]
    return schema.type.value


_PYTHON_TYPES: dict[Type, tuple[type, ...]] = {
    Type.BOOLEAN: (bool,),
    Type.INT8: (int,),
    Type.INT16: (int,),
    Type.INT32: (int,),
    Type.INT64: (int,),
    Type.FLOAT32: (float,),
    Type.FLOAT64: (float,),
    Type.STRING: (str,),
    Type.BYTES: (bytes,),
    Type.ARRAY: (list,),
    Type.MAP: (dict,),
    Type.STRUCT: (dict,),
}


def _union_adapter(schema: Schema, members: list[tuple[str, Schema, Adapter | None]]) -> Adapter:
    """fastavro returns a union's value without its branch: find the branch from the value.

    Avro forbids two branches of one unnamed type, so the Python type decides, except between
    records (matched by field names), int and long (the first listed) and map vs record.
    """
    import datetime as _dt
    import decimal

    def matches(member: Schema, value: Any) -> bool:
        name = member.name
        if name == DECIMAL_NAME:
            return isinstance(value, decimal.Decimal)
        if name == TIMESTAMP_NAME:
            return isinstance(value, _dt.datetime)
        if name == DATE_NAME:
            return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
        if name == TIME_NAME:
            return isinstance(value, _dt.time)
        if isinstance(value, bool) != (member.type is Type.BOOLEAN):
            return False
        if not isinstance(value, _PYTHON_TYPES[member.type]):
            return False
        if member.type is Type.STRUCT:
            return [f.name for f in member.fields] == list(value)
        return True

    count = len(members)

    def adapt(value: Any) -> Struct:
        for index, (_, member, member_adapt) in enumerate(members):
            if matches(member, value):
                values: list[Any] = [None] * count
                values[index] = value if member_adapt is None else member_adapt(value)
                return Struct._trusted(schema, values)
        raise DataError(f"no branch of the Avro union fits {describe_value(value)}")

    return adapt


def _with_default(schema: Schema, avro: Any, default: Any) -> Schema:
    """The field schema with its Avro default as Connect default; unchanged if it cannot be mapped."""
    try:
        value = _default_value(schema, avro, default)
        return dataclasses.replace(schema, default=value)
    except (DataError, TypeError, ValueError, KeyError, AttributeError):
        # A default Connect cannot hold (e.g. a union default): reading never needs it, because
        # Avro data always carries every field.
        return schema


def _default_value(schema: Schema, avro: Any, default: Any) -> Any:
    import datetime as _dt

    kind = schema.type
    if isinstance(avro, list):  # a union's default is of its first branch
        avro = avro[0]
    if schema.name == DECIMAL_NAME:
        return decimal_from_bytes(default.encode("latin-1"), schema.scale or 0)
    if schema.name == DATE_NAME:
        return _dt.date(1970, 1, 1) + _dt.timedelta(days=default)
    if schema.name in (TIME_NAME, TIMESTAMP_NAME):
        raise ValueError("no time defaults")
    if kind is Type.BYTES:
        return default.encode("latin-1")  # Avro JSON encodes bytes defaults as ISO-8859-1 strings
    if kind in (Type.FLOAT32, Type.FLOAT64):
        return float(default)
    if kind is Type.ARRAY:
        item = avro["items"] if isinstance(avro, dict) else None
        return [_default_value(schema.value_schema, item, v) for v in default]  # type: ignore[arg-type]
    if kind is Type.MAP:
        item = avro["values"] if isinstance(avro, dict) else None
        return {k: _default_value(schema.value_schema, item, v) for k, v in default.items()}  # type: ignore[arg-type]
    if kind is Type.STRUCT:
        raise ValueError("struct defaults are not mapped")
    return default


# ============================================================================================
# Connect -> Avro


def connect_to_avro(schema: Schema) -> WriteMapping:
    """The Avro schema for a Connect schema, and the adapter for its values."""
    builder = _WriteBuilder()
    avro, adapt = builder.node(schema, top=True)
    return WriteMapping(avro, adapt)


class _WriteBuilder:
    def __init__(self) -> None:
        self.defaults = 0
        self.entries = 0
        self.named: dict[Schema, str] = {}

    def entry_name(self) -> str:
        self.entries += 1
        return _MAP_ENTRY if self.entries == 1 else f"{_MAP_ENTRY}{self.entries}"

    def default_name(self) -> str:
        self.defaults += 1
        suffix = "" if self.defaults == 1 else str(self.defaults)
        return f"{_DEFAULT_NAMESPACE}.ConnectDefault{suffix}"

    def node(self, schema: Schema, *, top: bool = False) -> tuple[Any, Adapter | None]:
        avro, adapt = self.required(schema, top=top)
        if schema.optional:
            inner = adapt
            avro = ["null", avro]
            if inner is not None:
                adapt = lambda value: None if value is None else inner(value)
        return avro, adapt

    def required(self, schema: Schema, *, top: bool = False) -> tuple[Any, Adapter | None]:
        kind = schema.type
        logical = schema.logical_name
        if logical == DECIMAL_NAME:
            precision = (schema.parameters or {}).get(PRECISION_PARAMETER) or _DEFAULT_PRECISION
            return {
                "type": "bytes",
                "logicalType": "decimal",
                "precision": int(precision),
                "scale": schema.scale,
                "connect.name": DECIMAL_NAME,
                "connect.version": 1,
                "connect.parameters": dict(schema.parameters or {}),
            }, None
        if logical == DATE_NAME:
            return {"type": "int", "logicalType": "date", "connect.name": DATE_NAME, "connect.version": 1}, None
        if logical == TIME_NAME:
            return {"type": "int", "logicalType": "time-millis", "connect.name": TIME_NAME, "connect.version": 1}, None
        if logical == TIMESTAMP_NAME:
            return {
                "type": "long",
                "logicalType": "timestamp-millis",
                "connect.name": TIMESTAMP_NAME,
                "connect.version": 1,
            }, None
        if kind is Type.INT8 or kind is Type.INT16:
            return {"type": "int", "connect.type": kind.value}, None
        if kind.is_primitive:
            avro_type = {
                Type.INT32: "int",
                Type.INT64: "long",
                Type.FLOAT32: "float",
                Type.FLOAT64: "double",
                Type.BOOLEAN: "boolean",
                Type.STRING: "string",
                Type.BYTES: "bytes",
            }[kind]
            if top and schema.version is not None:
                return {"type": avro_type, "connect.version": schema.version}, _bytes_adapter(kind)
            return avro_type, _bytes_adapter(kind)
        if kind is Type.ARRAY:
            items, adapt = self.node(schema.value_schema)  # type: ignore[arg-type]
            if adapt is None:
                return {"type": "array", "items": items}, None
            return {"type": "array", "items": items}, lambda value: [adapt(v) for v in value]
        if kind is Type.MAP:
            key_schema, value_schema = schema.key_schema, schema.value_schema
            values, adapt = self.node(value_schema)  # type: ignore[arg-type]
            if key_schema.type is Type.STRING and not key_schema.optional:  # type: ignore[union-attr]
                if adapt is None:
                    return {"type": "map", "values": values}, None
                return {"type": "map", "values": values}, lambda value: {k: adapt(v) for k, v in value.items()}
            keys, key_adapt = self.node(key_schema)  # type: ignore[arg-type]
            entry = {
                "type": "record",
                "name": self.entry_name(),
                "namespace": _DEFAULT_NAMESPACE,
                "fields": [{"name": "key", "type": keys}, {"name": "value", "type": values}],
            }
            ka = key_adapt or (lambda k: k)
            va = adapt or (lambda v: v)
            return {"type": "array", "items": entry}, lambda value: [
                {"key": ka(k), "value": va(v)} for k, v in value.items()
            ]
        # STRUCT
        name = schema.name or self.default_name()
        if name in self.named.values():
            raise AvroSchemaError(f"struct name '{name}' is used by two different schemas; Avro needs unique names")
        self.named[schema] = name
        fields = []
        adapters: list[tuple[str, Adapter | None]] = []
        for fld in schema.fields:
            avro_field, adapt = self.node(fld.schema)
            spec: dict[str, Any] = {"name": fld.name, "type": avro_field}
            if fld.schema.optional:
                spec["default"] = None
            fields.append(spec)
            adapters.append((fld.name, adapt))
        namespace, _, simple = name.rpartition(".")
        record: dict[str, Any] = {"type": "record", "name": simple, "fields": fields}
        if namespace:
            record["namespace"] = namespace
        if schema.doc:
            record["doc"] = schema.doc
        if top and schema.version is not None:
            record["connect.version"] = schema.version

        def adapt_struct(value: Struct) -> dict:
            if not isinstance(value, Struct):
                raise DataError(f"expected a Struct for {schema.label()}, got {describe_value(value)}")
            out = {}
            for (field_name, field_adapt), (_, item) in zip(adapters, value.items(), strict=True):
                out[field_name] = item if field_adapt is None or item is None else field_adapt(item)
            return out

        return record, adapt_struct


def _bytes_adapter(kind: Type) -> Adapter | None:
    if kind is Type.BYTES:
        return lambda value: value if type(value) is bytes else bytes(value)
    return None
