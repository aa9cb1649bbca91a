"""Avro -> Connect: an Avro writer schema becomes a Connect schema, a fastavro reader schema and an adapter.

This is the reading half of Confluent's ``AvroData`` (``toConnectSchema`` / ``toConnectData``),
rule for rule, including its ``connect.*`` properties and options (see :mod:`.avro_schema`).

**Decoding keeps the union branch.** fastavro decodes the binary, but its plain output drops
which branch of a union was written, and guessing it from the Python value is wrong whenever two
branches decode to the same Python type (two records, an enum and a string, two fixed types, int
and long, float and double). So the reader is configured to keep it:

* fastavro's ``return_named_type`` makes every union value of a *named* branch (record, enum,
  fixed) a ``(full name, value)`` tuple;
* in a union whose unnamed branches would decode to the same Python type, each of those branches
  gets a logical type of our own (``streamapp.branch``) in the reader's copy of the schema: its
  reader returns ``(branch index, value)``;
* any other unnamed branch is the only one of its Python type.

The reader copy differs from the writer schema only in logical types (which do not change the
binary encoding): those Connect has no type for (``time-micros``, ``uuid``...) are removed so the
raw value comes through, as in Confluent; Date/Time/Timestamp marked only by ``connect.name`` get
theirs; decimals fastavro refuses (scale greater than precision, as Oracle ``NUMBER(5,7)`` through
Debezium) or marked only by ``connect.name`` use our ``streamapp.decimal`` reader.

**Adapters.** fastavro returns records as dicts in field order, so a record of plain fields
becomes a Struct with one ``list(d.values())``; an adapter exists only where a value needs a
change (nested records, unions, maps with non-string keys, which Confluent writes as arrays of
``MapEntry`` key/value records). Recursive records map to :class:`.CyclicSchema` back-references.
Confluent's ``Anything`` record (schemaless Connect data) maps to no schema and the plain value.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastavro.read import LOGICAL_READERS

from streamapp.data import (
    DATE_NAME,
    DECIMAL_NAME,
    DECIMAL_SCALE,
    LOGICAL_NAMES,
    TIME_NAME,
    TIMESTAMP_NAME,
    DataError,
    Field,
    Schema,
    Struct,
    Type,
    date_from_days,
    decimal_from_bytes,
    describe_value,
    time_from_millis,
    timestamp_from_millis,
)

from .avro_schema import (
    ANYTHING_SCHEMA,
    AVRO_PROP_PREFIX,
    AVRO_TYPE_ENUM,
    CONNECT_DEFAULT,
    CONNECT_DOC,
    CONNECT_ENUM_DOC,
    CONNECT_INTERNAL_TYPE,
    CONNECT_NAME,
    CONNECT_PARAMETERS,
    CONNECT_RECORD_DOC,
    CONNECT_TYPE,
    CONNECT_VERSION,
    DEFAULT_PRECISION,
    DEFAULT_SCHEMA_FULL_NAME,
    ENUM_DEFAULT_PREFIX,
    ENUM_DOC_PREFIX,
    FIELD_DEFAULT_FLAG,
    FIELD_DOC_PREFIX,
    FIXED_SIZE_PARAMETER,
    GENERALIZED_ENUM,
    GENERALIZED_UNION,
    GENERALIZED_UNION_FIELD_PREFIX,
    GENERALIZED_UNION_PREFIX,
    MAP_ENTRY,
    NAMESPACE,
    PRECISION_PARAMETER,
    RECORD_DOC,
    UNION_NAME,
    AvroDataOptions,
    AvroSchemaError,
    CyclicSchema,
    full_name,
)

__all__ = ["READ_OPTIONS", "ReadMapping", "UnionCounter", "avro_to_connect", "is_anything", "reader_schema"]

Adapter = Callable[[Any], Any]

#: fastavro reader options: union values of named branches come back as (name, value).
READ_OPTIONS = {
    "return_record_name": False,
    "return_record_name_override": False,
    "handle_unicode_errors": "strict",
    "return_named_type": True,
    "return_named_type_override": False,
}

_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
_NAMED = {"record", "error", "enum", "fixed"}
_BRANCH = "streamapp.branch"
_DECIMAL = "streamapp.decimal"
_SCALE = "streamapp.scale"
_NEW = object.__new__
_NULL = object()  # an Avro field default of JSON null, as opposed to no default


def _read_branch(data: Any, writer_schema: dict, reader_schema: Any) -> tuple[int, Any]:
    return writer_schema[_BRANCH], data


def _read_decimal(data: bytes, writer_schema: dict, reader_schema: Any) -> decimal.Decimal:
    return decimal_from_bytes(data, writer_schema[_SCALE])


for _kind in ("int", "long", "float", "double"):
    LOGICAL_READERS[f"{_kind}-{_BRANCH}"] = _read_branch
for _kind in ("bytes", "fixed"):
    LOGICAL_READERS[f"{_kind}-{_DECIMAL}"] = _read_decimal


class UnionCounter:
    """Numbers the ``connect_union_N`` names of ``generalized.sum.type.support``.

    Confluent counts unions per AvroData instance (one per converter) over its lifetime, in the
    order schemas are converted; each converter owns one counter to do the same.
    """

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        number = self.next
        self.next += 1
        return number


@dataclass(frozen=True)
class ReadMapping:
    """A writer schema made ready for decoding: Connect schema, fastavro reader schema, adapter."""

    schema: Schema | None  # None: Confluent's Anything schema (schemaless data)
    reader_schema: Any  # the writer schema with logical types adjusted, for fastavro.parse_schema
    adapt: Adapter | None  # fastavro value -> Connect value; None: it already is


def avro_to_connect(
    avro: Any,
    *,
    version: int | None = None,
    options: AvroDataOptions | None = None,
    unions: UnionCounter | None = None,
) -> ReadMapping:
    """Map a writer schema (parsed JSON); ``version`` (the registry's) goes on the top schema."""
    options = options or AvroDataOptions()
    reader = reader_schema(avro, options)
    if is_anything(avro):
        return ReadMapping(None, reader, _anything_value)
    node = _Builder(options, unions or UnionCounter()).convert(avro, "", version=version)
    schema = node.schema
    return ReadMapping(schema, reader, node.make(schema))


# ============================================================================================
# The reader's copy of the writer schema


def _lower(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _logical_name(node: dict, kind: str) -> str | None:
    """The Connect logical type a primitive/fixed Avro node maps to (Confluent's rules), or None."""
    logical = _lower(node.get("logicalType"))
    connect_name = node.get(CONNECT_NAME)
    if kind in ("bytes", "fixed"):
        if logical == "decimal":
            return DECIMAL_NAME
    elif kind == "int":
        if logical == "date":
            return DATE_NAME
        if logical == "time-millis":
            return TIME_NAME
    elif kind == "long":
        if logical == "timestamp-millis":
            return TIMESTAMP_NAME
    if connect_name in LOGICAL_NAMES and LOGICAL_NAMES[connect_name].value == {
        "bytes": "bytes",
        "fixed": "bytes",
        "int": "int32",
        "long": "int64",
    }.get(kind):
        return connect_name  # type: ignore[no-any-return]
    return None


def _decimal_scale(node: dict) -> Any:
    if _lower(node.get("logicalType")) == "decimal":
        scale = node.get("scale", 0)
        return int(scale) if isinstance(scale, (int, float)) and not isinstance(scale, bool) else 0
    params = node.get(CONNECT_PARAMETERS)
    return params.get(DECIMAL_SCALE) if isinstance(params, dict) else None


def _python_kind(branch: Any) -> str:
    """What fastavro's value for a union branch is, for telling the branches apart."""
    if isinstance(branch, str):
        if branch not in _PRIMITIVES:
            return "named"
        branch = {"type": branch}
    if not isinstance(branch, dict):
        return "other"
    kind = branch.get("type")
    if not isinstance(kind, str):
        return "other"
    if kind in ("int", "long", "bytes", "fixed"):
        logical = _logical_name(branch, kind)
        if logical is not None and kind != "fixed":
            return logical
    if kind in ("int", "long"):
        return "integer"
    if kind in ("float", "double"):
        return "floating"
    if kind in _PRIMITIVES or kind in ("array", "map"):
        return kind
    return "named"


def _is_union_struct(branches: list, options: AvroDataOptions) -> bool:
    """Whether Confluent maps this union to an ``io.confluent.connect.avro.Union`` struct."""
    if len(branches) == 1 and options.flatten_singleton_unions:
        return False
    return not (len(branches) == 2 and any(_is_null(b) for b in branches))


def _is_null(branch: Any) -> bool:
    return branch == "null" or branch == {"type": "null"}


def reader_schema(avro: Any, options: AvroDataOptions) -> Any:
    """The copy of the writer schema fastavro reads with (see the module docstring)."""

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return node
        if isinstance(node, list):
            branches = [walk(b) for b in node]
            if _is_union_struct(node, options):
                kinds = [_python_kind(b) for b in node]
                for index, kind in enumerate(kinds):
                    if kind in ("integer", "floating") and kinds.count(kind) > 1:
                        tagged = {"type": node[index]} if isinstance(node[index], str) else dict(branches[index])
                        tagged["logicalType"] = _BRANCH
                        tagged[_BRANCH] = index
                        branches[index] = tagged
            return branches
        if not isinstance(node, dict):
            return node
        out = dict(node)
        kind = node.get("type")
        if isinstance(kind, (dict, list)):
            out["type"] = walk(kind)
            return out
        if kind in ("record", "error"):
            # Decoding needs no defaults, and fastavro refuses some a registry holds ([1.23] for a float)
            out["fields"] = [
                {k: walk(v) if k == "type" else v for k, v in f.items() if k != "default"}
                for f in node.get("fields", ())
            ]
        elif kind == "array":
            out["items"] = walk(node["items"])
        elif kind == "map":
            out["values"] = walk(node["values"])
        if kind in (
            "int",
            "long",
            "bytes",
            "fixed",
            "string",
            "float",
            "double",
            "boolean",
            "record",
            "enum",
            "array",
            "map",
            "error",
            "null",
        ):
            out.pop("logicalType", None)
            logical = _logical_name(node, kind) if kind in ("int", "long", "bytes", "fixed") else None
            if logical == DECIMAL_NAME:
                scale = _decimal_scale(node)
                try:
                    scale = int(scale)
                except (TypeError, ValueError):
                    scale = None  # the Connect mapping says what is wrong
                precision = node.get("precision")
                if (
                    node.get("logicalType") == "decimal"
                    and type(precision) is int
                    and precision > 0
                    and scale is not None
                    and 0 <= scale <= precision
                ):
                    out["logicalType"] = "decimal"
                elif scale is not None:
                    out["logicalType"] = _DECIMAL
                    out[_SCALE] = scale
            elif logical is not None:
                out["logicalType"] = {DATE_NAME: "date", TIME_NAME: "time-millis", TIMESTAMP_NAME: "timestamp-millis"}[
                    logical
                ]
        return out

    return walk(avro)


# ============================================================================================
# Anything: Confluent's schema for schemaless data


def _normal(node: Any, namespace: str) -> Any:
    """A schema with every name full and no namespace keys: equal schemas compare equal."""
    if isinstance(node, list):
        return [_normal(b, namespace) for b in node]
    if isinstance(node, str):
        return node if node in _PRIMITIVES else full_name(node, namespace)
    if not isinstance(node, dict):
        return node
    out = {k: v for k, v in node.items() if k != "namespace"}
    kind = node.get("type")
    if kind in _NAMED:
        out["name"] = full_name(node["name"], node.get("namespace", namespace))
        namespace = out["name"].rpartition(".")[0]
    if isinstance(kind, (dict, list)) or (
        isinstance(kind, str) and kind not in _PRIMITIVES and kind not in _NAMED and kind not in ("array", "map")
    ):
        out["type"] = _normal(kind, namespace)
    if "fields" in node:
        out["fields"] = [{**f, "type": _normal(f["type"], namespace)} for f in node["fields"]]
    if "items" in node:
        out["items"] = _normal(node["items"], namespace)
    if "values" in node:
        out["values"] = _normal(node["values"], namespace)
    return out


_ANYTHING_NORMAL = _normal(ANYTHING_SCHEMA, "")


def is_anything(avro: Any) -> bool:
    """Whether ``avro`` is Confluent's ``io.confluent.connect.avro.Anything`` schema."""
    return (
        isinstance(avro, dict)
        and avro.get("name") in ("Anything", "io.confluent.connect.avro.Anything")
        and (_normal(avro, "") == _ANYTHING_NORMAL)
    )


_ANYTHING_ORDER = ("boolean", "bytes", "double", "float", "int", "long", "string")


def _anything_value(record: Any) -> Any:
    """The value an Anything record holds (Confluent checks the fields in this order)."""
    if record is None:
        return None
    for name in _ANYTHING_ORDER:
        value = record[name]
        if value is not None:
            return value
    items = record["array"]
    if items is not None:
        return [_anything_value(item) for item in items]
    entries = record["map"]
    if entries is not None:
        out: dict[Any, Any] = {}
        for entry in entries:
            key = _anything_value(entry["key"])
            try:
                out[key] = _anything_value(entry["value"])
            except TypeError:
                raise DataError(f"a schemaless map key {describe_value(key)} cannot be a Python dict key") from None
        return out
    return None


# ============================================================================================
# The Connect schema and the adapter


@dataclass
class _Node:
    """A converted Avro node: its Connect schema and how to build its adapter for a final schema.

    The adapter of a struct builds Structs carrying one exact schema object (Connect compares a
    struct's schema by equality, and an optional flag, default or field-level parameter changes
    it), so adapters are made for the schema the caller ends up with.
    """

    schema: Schema
    make: Callable[[Schema], Adapter | None]
    named_value: bool = False  # a union of this node returns fastavro's (name, value) tuple
    key: str | None = None  # its full name, as fastavro's tuple has it


def _no_adapter(schema: Schema) -> None:
    return None


@dataclass
class _Cycle:
    """A record being converted, for references back to it from inside (recursive schemas)."""

    name: str
    pending: list[CyclicSchema]
    fields: list[tuple[str, Adapter, bool]]  # (name, adapter, nullable) of the fields that need one
    ready: bool = False  # fields is complete
    detected: bool = False
    schema: Schema | None = None


class _Builder:
    def __init__(self, options: AvroDataOptions, unions: UnionCounter) -> None:
        self.options = options
        self.unions = unions
        self.named: dict[str, tuple[dict, str]] = {}  # full name -> (definition, its namespace)
        self.cycles: dict[int, _Cycle] = {}  # id(definition) -> record being converted

    # ------------------------------------------------------------------ names

    def resolve(self, node: Any, namespace: str) -> tuple[Any, str]:
        """The definition behind a name reference (and its namespace); other nodes unchanged."""
        if isinstance(node, str) and node not in _PRIMITIVES:
            for candidate in (full_name(node, namespace), node):
                if candidate in self.named:
                    return self.named[candidate]
            raise AvroSchemaError(f"unknown Avro type name '{node}'")
        if isinstance(node, dict) and isinstance(node.get("type"), (dict, list)) and len(node) == 1:
            return self.resolve(node["type"], namespace)
        if (
            isinstance(node, dict)
            and isinstance(node.get("type"), str)
            and node["type"] not in _PRIMITIVES
            and (node["type"] not in _NAMED and node["type"] not in ("array", "map"))
        ):
            return self.resolve(node["type"], namespace)
        return node, namespace

    def define(self, node: dict, namespace: str) -> tuple[str, str]:
        """Register a named type; (its full name, the namespace inside it)."""
        name = full_name(node["name"], node.get("namespace", namespace))
        self.named.setdefault(name, (node, namespace))
        return name, name.rpartition(".")[0]

    def member_name(self, node: Any, namespace: str, index: int) -> str:
        """Confluent's union field name for a branch."""
        if self.options.generalized_sum_type_support:
            return f"{GENERALIZED_UNION_FIELD_PREFIX}{index}"
        node, namespace = self.resolve(node, namespace)
        if isinstance(node, dict) and node.get("type") in _NAMED:
            name = full_name(node["name"], node.get("namespace", namespace))
            return name if self.options.enhanced_avro_schema_support else name.rpartition(".")[2]
        if isinstance(node, list):
            return "union"
        return node if isinstance(node, str) else str(node.get("type"))

    # ------------------------------------------------------------------ conversion

    def convert(
        self,
        avro: Any,
        namespace: str,
        *,
        optional: bool = False,
        field_default: Any = None,
        field_doc: str | None = None,
        version: int | None = None,
        cycles: bool = False,
    ) -> _Node:
        """Confluent's ``toConnectSchema`` (``cycles``: its ``toConnectSchemaWithCycles``)."""
        node, namespace = self.resolve(avro, namespace)
        if cycles and isinstance(node, dict) and id(node) in self.cycles:
            return self.back_reference(node, optional)
        if isinstance(node, list):
            return self.union(node, namespace, optional, field_default, field_doc, version)
        if isinstance(node, str):
            node = {"type": node}
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise AvroSchemaError(f"not an Avro schema: {describe_value(node)}")
        return self.typed(node, namespace, optional, field_default, field_doc, version)

    def typed(
        self, node: dict, namespace: str, optional: bool, field_default: Any, field_doc: str | None, version: int | None
    ) -> _Node:
        options = self.options
        kind = node["type"]
        logical = _lower(node.get("logicalType"))
        name: str | None = None  # the name the Connect type itself has (logical types, unions)
        schema_version: int | None = None
        params: dict[str, str] = {}
        fields: tuple[Field, ...] = ()
        key_schema = value_schema = None
        make: Callable[[Schema], Adapter | None] = _no_adapter
        named_value = False
        full = ""
        inner_namespace = namespace
        cycle: _Cycle | None = None
        if kind == "boolean":
            ctype = Type.BOOLEAN
        elif kind in ("bytes", "fixed"):
            ctype = Type.BYTES
            if kind == "fixed":
                full, inner_namespace = self.define(node, namespace)
                named_value = True
            if logical == "decimal":
                scale = node.get("scale", 0)
                scale = scale if isinstance(scale, (int, float)) and not isinstance(scale, bool) else 0
                name, schema_version = DECIMAL_NAME, 1
                params[DECIMAL_SCALE] = str(int(scale))
                precision = node.get("precision")
                if precision is not None:
                    if not isinstance(precision, (int, float)) or isinstance(precision, bool):
                        raise AvroSchemaError("precision property must be a JSON Integer (the Avro decimal spec)")
                    if int(precision) != DEFAULT_PRECISION:
                        params[PRECISION_PARAMETER] = str(int(precision))
            if kind == "fixed":
                params[FIXED_SIZE_PARAMETER] = str(node["size"])
        elif kind == "double":
            ctype = Type.FLOAT64
        elif kind == "float":
            ctype = Type.FLOAT32
        elif kind == "int":
            connect_type = node.get(CONNECT_TYPE)
            ctype = Type.INT32
            if logical is not None:
                if logical == "date":
                    name, schema_version = DATE_NAME, 1
                elif logical == "time-millis":
                    name, schema_version = TIME_NAME, 1
            elif connect_type is not None:
                ctype = {"int8": Type.INT8, "int16": Type.INT16}.get(connect_type)  # type: ignore[assignment]
                if ctype is None:
                    raise AvroSchemaError(f"unknown connect.type {connect_type!r} on an Avro int")
        elif kind == "long":
            ctype = Type.INT64
            if logical == "timestamp-millis":
                name, schema_version = TIMESTAMP_NAME, 1
        elif kind == "string":
            ctype = Type.STRING
        elif kind == "array":
            items, items_namespace = self.resolve(node["items"], namespace)
            if self.is_map_entry(items, items_namespace):
                ctype = Type.MAP
                entry_namespace = self.define(items, items_namespace)[1]
                entry_fields = items.get("fields", ())
                names = [f.get("name") for f in entry_fields]
                if len(entry_fields) != 2 or "key" not in names or "value" not in names:
                    raise AvroSchemaError(
                        "found a map encoded as an array of key/value records, but its records do not have "
                        "exactly the fields 'key' and 'value'"
                    )
                by_name = {f["name"]: f for f in entry_fields}
                key = self.convert(by_name["key"]["type"], entry_namespace)
                value = self.convert(by_name["value"]["type"], entry_namespace)
                key_schema, value_schema = key.schema, value.schema
                key_index = names.index("key")
                make = self.entries_maker(key, value, key_index)
            else:
                ctype = Type.ARRAY
                element = self.convert(node["items"], namespace, cycles=True)
                value_schema = element.schema
                make = self.array_maker(element)
        elif kind == "map":
            ctype = Type.MAP
            element = self.convert(node["values"], namespace, cycles=True)
            key_schema, value_schema = Schema(Type.STRING), element.schema
            make = self.map_maker(element)
        elif kind in ("record", "error"):
            ctype = Type.STRUCT
            full, inner_namespace = self.define(node, namespace)
            named_value = True
            if id(node) in self.cycles and self.cycles[id(node)].schema is None:
                raise AvroSchemaError(
                    f"Avro record '{full}' contains itself outside a union, array or map (no value could ever end)"
                )
            cycle = _Cycle(name=full, pending=[], fields=[])
            self.cycles[id(node)] = cycle
            discard, meta = options.discard_type_doc_default, options.connect_meta_data
            if not discard and meta and node.get("doc") is not None:
                params[RECORD_DOC] = node["doc"]
            built: list[Field] = []
            field_nodes: list[_Node] = []
            for index, spec in enumerate(node.get("fields", ())):
                field_name = spec.get("name")
                if not discard and meta and spec.get("doc") is not None:
                    params[FIELD_DOC_PREFIX + field_name] = spec["doc"]
                default = _NULL if "default" in spec and spec["default"] is None else spec.get("default")
                try:
                    child = self.convert(
                        spec["type"], inner_namespace, field_default=default, field_doc=spec.get("doc")
                    )
                except DataError as exc:
                    raise exc.at(str(field_name)) from None
                field_params = spec.get(CONNECT_PARAMETERS)
                if meta and isinstance(field_params, dict):
                    child = _with_field_parameters(child, field_params)
                built.append(Field(field_name, index, child.schema))
                field_nodes.append(child)
            fields = tuple(built)
            make = self.struct_maker(cycle, field_nodes)
        elif kind == "enum":
            ctype = Type.STRING
            full, _ = self.define(node, namespace)
            named_value = True
            simple = full.rpartition(".")[2]
            if options.connect_meta_data:
                if node.get("doc") is not None:
                    key = CONNECT_ENUM_DOC if options.discard_type_doc_default else ENUM_DOC_PREFIX + simple
                    params[key] = node["doc"]
                if not options.discard_type_doc_default and node.get("default") is not None:
                    params[ENUM_DEFAULT_PREFIX + simple] = node["default"]
            generalized = options.generalized_sum_type_support
            parameter = GENERALIZED_ENUM if generalized else AVRO_TYPE_ENUM
            params[parameter] = full
            for number, symbol in enumerate(node.get("symbols", ())):
                params[f"{parameter}.{symbol}"] = str(number) if generalized else symbol
        elif kind == "null":
            raise AvroSchemaError("standalone null schemas are not supported (Avro null only makes sense in a union)")
        else:
            raise AvroSchemaError(f"unsupported Avro type {kind!r}")

        # ---- what Confluent applies to every type: doc, version, parameters, default, name
        doc: str | None = None
        if options.discard_type_doc_default:
            doc = field_doc if field_doc is not None else node.get("doc", node.get(CONNECT_DOC))
            if options.connect_meta_data and node.get("doc") is not None:
                params[CONNECT_RECORD_DOC] = node["doc"]
        elif options.connect_meta_data and node.get(CONNECT_DOC) is not None:
            doc = node[CONNECT_DOC]

        own_version = node.get(CONNECT_VERSION)
        if own_version is not None:
            if not isinstance(own_version, (int, float)) or isinstance(own_version, bool):
                raise AvroSchemaError(f"invalid Connect version {own_version!r} (connect.version must be a number)")
            version = int(own_version)
        if version is not None and version >= 0:
            if schema_version is not None and schema_version != version:
                raise AvroSchemaError(
                    f"mismatched versions: the Connect {name} type has version {schema_version}, the Avro schema "
                    f"says {version}"
                )
            schema_version = version

        connect_params = node.get(CONNECT_PARAMETERS)
        if options.connect_meta_data and connect_params is not None:
            if not isinstance(connect_params, dict):
                raise AvroSchemaError(
                    f"expected a JSON object for connect.parameters, got {describe_value(connect_params)}"
                )
            for key, value in connect_params.items():
                if not isinstance(value, str):
                    raise AvroSchemaError(
                        f"connect.parameters values must be strings; '{key}' is {describe_value(value)}"
                    )
                params[key] = value
        for key, value in node.items():
            if key.startswith(AVRO_PROP_PREFIX):
                params[key] = _java_text(value)

        connect_default = node.get(CONNECT_DEFAULT)
        if field_default is None:
            default_json = connect_default
        else:
            default_json = field_default
            if not options.discard_type_doc_default and options.connect_meta_data and connect_default is None:
                params[FIELD_DEFAULT_FLAG] = "true"

        connect_name = node.get(CONNECT_NAME)
        if connect_name is not None:
            if not isinstance(connect_name, str):
                raise AvroSchemaError(f"invalid schema name {connect_name!r} (connect.name must be a string)")
            found = connect_name
        elif kind in ("record", "error", "enum"):
            found = full
        elif kind == "fixed" and name != DECIMAL_NAME:
            found = full
        else:
            found = None
        if found is not None and not found.startswith(DEFAULT_SCHEMA_FULL_NAME):
            if name is not None and found != name:
                raise AvroSchemaError(f"mismatched names: the Connect type is {name}, the Avro schema names {found}")
            name = found

        try:
            schema = Schema(
                ctype,
                optional=optional,
                name=name,
                version=schema_version,
                doc=doc,
                parameters=params or None,
                fields=fields,
                key_schema=key_schema,
                value_schema=value_schema,
            )
        except DataError as exc:
            raise AvroSchemaError(exc.reason) from None
        if default_json is not None:
            schema = self.with_default(schema, node, namespace, default_json)
        if cycle is not None:
            cycle.schema = schema
            for reference in cycle.pending:
                reference.bind(schema)
            if not cycle.detected:
                del self.cycles[id(node)]
        return _Node(schema, make, named_value, full or None)

    def with_default(self, schema: Schema, node: dict, namespace: str, default_json: Any) -> Schema:
        """``schema`` with the Avro default as its Connect default; unchanged if Confluent would drop it."""
        try:
            value = self.default_value(schema, node, namespace, default_json)
            if value is None:
                return schema
            return dataclasses.replace(schema, default=value)
        except (DataError, TypeError, ValueError, KeyError, AttributeError, OverflowError):
            return schema  # Confluent logs "Ignoring invalid default" and goes on

    def default_value(self, schema: Schema, node: Any, namespace: str, value: Any) -> Any:
        """Confluent's ``defaultValueFromAvro``: an Avro JSON default as a Connect value."""
        if value is None or value is _NULL:
            return None
        node, namespace = self.resolve(node, namespace)
        if isinstance(node, str):
            node = {"type": node}
        if isinstance(node, list):
            first = node[0]
            if _is_null(first):
                return None
            raise ValueError("a union's default is not a value of the union struct")
        kind = node["type"]
        logical = schema.logical_name
        if kind == "int":
            if type(value) is not int:
                raise ValueError("not an int")
            if logical == DATE_NAME:
                return date_from_days(value)
            if logical == TIME_NAME:
                return time_from_millis(value)
            return value
        if kind == "long":
            if type(value) is not int:
                raise ValueError("not a long")
            return timestamp_from_millis(value) if logical == TIMESTAMP_NAME else value
        if kind in ("float", "double"):
            if type(value) not in (int, float):
                raise ValueError("not a number")
            return float(value)
        if kind == "boolean":
            if type(value) is not bool:
                raise ValueError("not a boolean")
            return value
        if kind in ("string", "enum"):
            if type(value) is not str:
                raise ValueError("not a string")
            return value
        if kind in ("bytes", "fixed"):
            if type(value) is not str:
                raise ValueError("not a string of bytes")
            data = value.encode("latin-1")
            return decimal_from_bytes(data, schema.scale) if logical == DECIMAL_NAME else data  # type: ignore[arg-type]
        if kind == "array":
            if type(value) is not list or schema.type is not Type.ARRAY:
                raise ValueError("not an array")
            element = schema.value_schema
            return [self.default_value(element, node["items"], namespace, v) for v in value]  # type: ignore[arg-type]
        if kind == "map":
            if type(value) is not dict:
                raise ValueError("not an object")
            element = schema.value_schema
            return {k: self.default_value(element, node["values"], namespace, v) for k, v in value.items()}  # type: ignore[arg-type]
        if kind in ("record", "error"):
            if type(value) is not dict or schema.type is not Type.STRUCT:
                raise ValueError("not an object")
            inner = full_name(node["name"], node.get("namespace", namespace)).rpartition(".")[0]
            values = {}
            for spec, fld in zip(node.get("fields", ()), schema.fields, strict=True):
                if spec["name"] in value:
                    item = self.default_value(fld.schema, spec["type"], inner, value[spec["name"]])
                else:
                    item = fld.schema.default
                if item is None and not fld.schema.optional and fld.schema.default is None:
                    raise ValueError(f"no value for required field {spec['name']}")
                values[fld.name] = item
            return Struct._trusted(schema, values)
        raise ValueError(f"no default for Avro {kind}")

    def is_map_entry(self, node: Any, namespace: str) -> bool:
        if not isinstance(node, dict) or node.get("type") not in ("record", "error"):
            return False
        if full_name(node["name"], node.get("namespace", namespace)) == f"{NAMESPACE}.{MAP_ENTRY}":
            return True
        return node.get(CONNECT_INTERNAL_TYPE) == MAP_ENTRY

    def union(
        self,
        branches: list,
        namespace: str,
        optional: bool,
        field_default: Any,
        field_doc: str | None,
        version: int | None,
    ) -> _Node:
        options = self.options
        if len(branches) == 1 and options.flatten_singleton_unions:
            inner = self.convert(branches[0], namespace, field_doc=field_doc, cycles=True)
            return _Node(inner.schema, _unwrap_named(inner), named_value=False)
        if len(branches) == 2 and any(_is_null(b) for b in branches):
            other = branches[1] if _is_null(branches[0]) else branches[0]
            inner = self.convert(other, namespace, optional=True, field_doc=field_doc, cycles=True)
            return _Node(inner.schema, _unwrap_named(inner), named_value=False)
        generalized = options.generalized_sum_type_support
        union_name = f"{GENERALIZED_UNION_PREFIX}{self.unions.take()}" if generalized else UNION_NAME
        params = {GENERALIZED_UNION: union_name} if generalized else None
        nullable = optional
        members: list[tuple[int, str, _Node]] = []
        seen: set[str] = set()
        kinds = [_python_kind(b) for b in branches]
        for index, branch in enumerate(branches):
            if _is_null(branch):
                nullable = True
                continue
            field_name = self.member_name(branch, namespace, index)
            if field_name in seen:
                raise AvroSchemaError(
                    f"two branches of an Avro union map to the same Connect union field '{field_name}'"
                )
            seen.add(field_name)
            members.append((index, field_name, self.convert(branch, namespace, optional=True, cycles=True)))
        fields = tuple(Field(n, i, m.schema) for i, (_, n, m) in enumerate(members))
        schema = Schema(Type.STRUCT, optional=nullable, name=union_name, parameters=params, fields=fields)
        # A union's Avro default is a value of its first branch, which a union struct cannot hold:
        # Confluent drops it (only the flag below says there was one).
        if version is not None and version >= 0:
            schema = dataclasses.replace(schema, version=version)
        if field_default is not None and options.connect_meta_data and not options.discard_type_doc_default:
            schema = dataclasses.replace(schema, parameters={**(params or {}), FIELD_DEFAULT_FLAG: "true"})
        if options.discard_type_doc_default and field_doc is not None:
            schema = dataclasses.replace(schema, doc=field_doc)

        def make(final: Schema) -> Adapter:
            return _union_adapter(final, members, kinds)

        return _Node(schema, make)

    def back_reference(self, node: dict, optional: bool) -> _Node:
        """A reference to a record that encloses it (or did, and was recursive): a CyclicSchema."""
        cycle = self.cycles[id(node)]
        cycle.detected = True
        reference = CyclicSchema(None, optional)
        if cycle.schema is not None:
            reference.bind(cycle.schema)
        else:
            cycle.pending.append(reference)

        def make(final: Schema) -> Adapter:
            return _struct_adapter(final, cycle)

        return _Node(reference, make, named_value=True, key=cycle.name)

    # ------------------------------------------------------------------ adapters

    def struct_maker(self, cycle: _Cycle, field_nodes: list[_Node]) -> Callable[[Schema], Adapter]:
        def make(final: Schema) -> Adapter:
            if not cycle.ready:
                for fld, child in zip(final.fields, field_nodes, strict=True):
                    adapt = child.make(fld.schema)
                    if adapt is not None:
                        cycle.fields.append((fld.name, adapt, fld.schema.optional))
                cycle.ready = True
            return _struct_adapter(final, cycle)

        return make

    @staticmethod
    def array_maker(element: _Node) -> Callable[[Schema], Adapter | None]:
        def make(final: Schema) -> Adapter | None:
            adapt = element.make(final.value_schema)  # type: ignore[arg-type]
            if adapt is None:
                return None
            plain_schema = getattr(adapt, "plain_schema", None)
            if plain_schema is not None:
                return _plain_struct_array(plain_schema, final.value_schema.optional)  # type: ignore[union-attr]
            if final.value_schema.optional:  # type: ignore[union-attr]
                return lambda value: [None if item is None else adapt(item) for item in value]
            return lambda value: list(map(adapt, value))

        return make

    @staticmethod
    def map_maker(element: _Node) -> Callable[[Schema], Adapter | None]:
        def make(final: Schema) -> Adapter | None:
            adapt = element.make(final.value_schema)  # type: ignore[arg-type]
            if adapt is None:
                return None
            if final.value_schema.optional:  # type: ignore[union-attr]
                return lambda value: {k: None if v is None else adapt(v) for k, v in value.items()}
            return lambda value: {k: adapt(v) for k, v in value.items()}

        return make

    @staticmethod
    def entries_maker(key: _Node, value: _Node, key_index: int) -> Callable[[Schema], Adapter]:
        def make(final: Schema) -> Adapter:
            key_schema, value_schema = final.key_schema, final.value_schema
            if key_schema.type in (Type.STRUCT, Type.ARRAY, Type.MAP):  # type: ignore[union-attr]
                raise AvroSchemaError(
                    f"a map with {key_schema.label()} keys cannot be a Python dict (its keys must be hashable)"  # type: ignore[union-attr]
                )
            key_adapt = _nullable(key.make(key_schema), key_schema)  # type: ignore[arg-type]
            value_adapt = _nullable(value.make(value_schema), value_schema)  # type: ignore[arg-type]

            def adapt(entries: list) -> dict:
                out = {}
                for entry in entries:
                    first, second = entry.values()
                    k, v = (first, second) if key_index == 0 else (second, first)
                    out[k if key_adapt is None else key_adapt(k)] = v if value_adapt is None else value_adapt(v)
                return out

            return adapt

        return make


def _nullable(adapt: Adapter | None, schema: Schema) -> Adapter | None:
    if adapt is None or not schema.optional:
        return adapt
    return lambda value: None if value is None else adapt(value)


def _unwrap_named(inner: _Node) -> Callable[[Schema], Adapter | None]:
    """A union of one named type (``["null", "Rec"]``, ``["Rec"]``): fastavro returns (name, value)."""
    if not inner.named_value:
        return inner.make

    def make(final: Schema) -> Adapter:
        adapt = inner.make(final)
        if adapt is None:
            return lambda value: value[1]
        return lambda value: adapt(value[1])

    return make


def _with_field_parameters(node: _Node, field_params: dict) -> _Node:
    """Confluent's field-level ``connect.parameters`` (a named type reused with other parameters)."""
    original = node.schema
    current = dict(original.parameters or {})
    if all(current.get(str(k)) == str(v) for k, v in field_params.items()):
        return node
    merged = {**current, **{str(k): str(v) for k, v in field_params.items()}}
    if isinstance(original, CyclicSchema):
        return node  # a back-reference carries the enclosing record's parameters
    return _Node(dataclasses.replace(original, parameters=merged), node.make, node.named_value)


def _struct_adapter(schema: Schema, cycle: _Cycle) -> Adapter:
    # Struct._trusted, inlined: on the decoding hot path its classmethod call costs as much as the
    # rest of the adapter (see bench/avro_converter.py).
    new = _NEW
    adapters = cycle.fields  # still filling when this is a back-reference inside its record

    # fastavro returns a record as a new dict of its fields in writer order, which is what a
    # Struct holds: it becomes the struct's, adapted in place where a field needs it.
    if cycle.ready and not adapters:

        def adapt_plain(value: dict) -> Struct:
            struct = new(Struct)
            struct._schema = schema
            struct._values = value
            return struct

        adapt_plain.plain_schema = schema  # type: ignore[attr-defined]  # arrays of it inline it
        return adapt_plain

    if cycle.ready:
        return _compiled_struct(schema, adapters)

    def adapt(value: dict) -> Struct:
        for name, field_adapt, nullable in adapters:
            item = value[name]
            if not nullable or item is not None:
                value[name] = field_adapt(item)
        struct = new(Struct)
        struct._schema = schema
        struct._values = value
        return struct

    return adapt


def _compiled_struct(schema: Schema, adapters: list[tuple[str, Adapter, bool]]) -> Adapter:
    """The struct adapter of a record whose field adapters are known, as straight-line code.

    A loop over (name, adapter, nullable) tuples costs about a fifth of a nested record's
    adapting time; the generated function does the same steps unrolled. No text from the schema
    goes into the code: field names are variables ``name<n>`` of its namespace.
    """
    lines = ["def adapt(values):"]
    env: dict[str, Any] = {"new": _NEW, "Struct": Struct, "schema": schema}
    for number, (name, field_adapt, nullable) in enumerate(adapters):
        env[f"adapt{number}"] = field_adapt
        env[f"name{number}"] = name
        index = f"name{number}"
        plain = getattr(field_adapt, "plain_schema", None)
        plain_items = getattr(field_adapt, "plain_items_schema", None)
        if plain is not None or plain_items is not None:
            # a nested record, or an array of records, that needs nothing but its Struct: inline
            env[f"schema{number}"] = plain if plain is not None else plain_items
            indent = "    "
            lines.append(f"    item = values[{index}]")
            if nullable:
                lines.append("    if item is not None:")
                indent = "        "
            if plain is not None:
                lines += [
                    f"{indent}struct = new(Struct)",
                    f"{indent}struct._schema = schema{number}",
                    f"{indent}struct._values = item",
                    f"{indent}values[{index}] = struct",
                ]
            else:
                lines += [
                    f"{indent}out = []",
                    f"{indent}append = out.append",
                    f"{indent}for element in item:",
                    f"{indent}    struct = new(Struct)",
                    f"{indent}    struct._schema = schema{number}",
                    f"{indent}    struct._values = element",
                    f"{indent}    append(struct)",
                    f"{indent}values[{index}] = out",
                ]
            continue
        if nullable:
            lines += [
                f"    item = values[{index}]",
                "    if item is not None:",
                f"        values[{index}] = adapt{number}(item)",
            ]
        else:
            lines.append(f"    values[{index}] = adapt{number}(values[{index}])")
    lines += [
        "    struct = new(Struct)",
        "    struct._schema = schema",
        "    struct._values = values",
        "    return struct",
    ]
    exec("\n".join(lines), env)  # noqa: S102 - generated from our own names only, see above
    return env["adapt"]  # type: ignore[no-any-return]


def _plain_struct_array(schema: Schema, optional: bool) -> Adapter:
    """An array of records that need no adapting: the Struct built inline, no call per element."""
    new = _NEW

    def adapt(value: list) -> list:
        out = []
        append = out.append
        for item in value:
            if item is None and optional:
                append(None)
                continue
            struct = new(Struct)
            struct._schema = schema
            struct._values = item
            append(struct)
        return out

    if not optional:
        adapt.plain_items_schema = schema  # type: ignore[attr-defined]  # a record adapter inlines it
    return adapt


def _union_adapter(schema: Schema, members: list[tuple[int, str, _Node]], kinds: list[str]) -> Adapter:
    """Put a union value into the field of its branch; the branch comes from the decoder, never a guess."""
    by_key: dict[Any, tuple[int, Adapter | None]] = {}
    by_type: dict[type, tuple[int, Adapter | None]] = {}
    for position, (branch_index, _, member) in enumerate(members):
        member_schema = schema.fields[position].schema
        adapt = member.make(member_schema)
        kind = kinds[branch_index]
        if member.named_value:
            by_key[member.key] = (position, adapt)
        elif kind in ("integer", "floating") and kinds.count(kind) > 1:
            by_key[branch_index] = (position, adapt)
        else:
            for python_type in _PYTHON_TYPES.get(kind, ()):
                by_type[python_type] = (position, adapt)
    names = [name for _, name, _ in members]

    def adapt_union(value: Any) -> Struct:
        if type(value) is tuple:
            found = by_key.get(value[0])
            value = value[1]
        else:
            found = by_type.get(type(value))
        if found is None:
            raise DataError(f"no branch of the Avro union ({', '.join(names)}) holds {describe_value(value)}")
        position, member_adapt = found
        values = dict.fromkeys(names)
        values[names[position]] = value if member_adapt is None else member_adapt(value)
        struct = _NEW(Struct)
        struct._schema = schema
        struct._values = values
        return struct

    return adapt_union


_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "integer": (int,),
    "int": (int,),
    "long": (int,),
    "floating": (float,),
    "float": (float,),
    "double": (float,),
    "string": (str,),
    "bytes": (bytes,),
    "array": (list,),
    "map": (dict,),
    DECIMAL_NAME: (decimal.Decimal,),
    DATE_NAME: (_dt.date,),
    TIME_NAME: (_dt.time,),
    TIMESTAMP_NAME: (_dt.datetime,),
}


def _java_text(value: Any) -> str:
    """How Java prints a schema property value (``avro.*`` properties become parameters so)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)
