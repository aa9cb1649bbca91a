"""Connect -> Avro: a Connect schema becomes the Avro schema Confluent writes, and a value encoder.

This is the writing half of Confluent's ``AvroData`` (``fromConnectSchema`` / ``fromConnectData``):

* metadata as ``connect.*`` properties (``connect.name``, ``connect.version``, ``connect.doc``,
  ``connect.default``, ``connect.parameters``, ``connect.type`` for INT8/INT16), unless
  ``connect.meta.data=false``; Avro facts kept in parameters (record and field docs, enum
  symbols and defaults, fixed sizes, decimal precision) go back where Avro has them;
* unnamed structs get Confluent's ``io.confluent.connect.avro.ConnectDefault``, ``ConnectDefault2``
  ... names; maps with keys other than required strings become arrays of ``MapEntry`` key/value
  records; ``io.confluent.connect.avro.Union`` structs become Avro unions, written in the branch
  of the field that is set; fixed-size bytes become ``fixed``; schemaless values become
  Confluent's ``Anything`` record;
* a named type used again is written as a reference to its name, as Avro (1.12) prints it; where
  the second use differs in parameters only, the field carries them (field-level
  ``connect.parameters``), and where it differs in shape it is an error (one name, two types
  cannot be written);
* values are checked against their schema while they are encoded: a value of the wrong type, a
  null for a required schema, an enum symbol the enum lacks or bytes of the wrong size for a fixed
  raise :class:`~streamapp.data.DataError` naming where, never a silent coercion.

The value encoder turns Connect values into what fastavro's ``schemaless_writer`` takes for a copy
of the schema without logical types (the binary encoding is the same): decimals as their
two's-complement bytes, dates as days, times and timestamps as milliseconds, and every union
value as fastavro's ``(branch name, value)`` so fastavro writes exactly the branch chosen here.
"""

from __future__ import annotations

import datetime as _dt
import decimal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamapp.data import (
    DATE_NAME,
    DECIMAL_NAME,
    DECIMAL_SCALE,
    INT_RANGES,
    TIME_NAME,
    TIMESTAMP_NAME,
    DataError,
    Schema,
    Struct,
    Type,
    date_to_days,
    decimal_to_bytes,
    describe_value,
    time_to_millis,
    timestamp_to_millis,
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
    DEFAULT_SCHEMA_NAME,
    ENUM_DEFAULT_PREFIX,
    ENUM_DOC_PREFIX,
    FIELD_DEFAULT_FLAG,
    FIELD_DOC_PREFIX,
    FIXED_SIZE_PARAMETER,
    GENERALIZED_ENUM,
    GENERALIZED_UNION,
    MAP_ENTRY,
    NAMESPACE,
    PRECISION_PARAMETER,
    RECORD_DOC,
    UNION_NAME,
    AvroDataOptions,
    AvroSchemaError,
    scrub_name,
    split_name,
)

__all__ = ["WriteMapping", "connect_to_avro", "strip_logical_types"]

Encoder = Callable[[Any], Any]
_METADATA = {CONNECT_DOC, CONNECT_VERSION, CONNECT_DEFAULT, CONNECT_PARAMETERS, CONNECT_NAME, "doc", "default"}
_BYTES_LIKE = (bytes, bytearray, memoryview)


@dataclass(frozen=True)
class WriteMapping:
    avro: Any  # the Avro schema JSON to register
    writer_schema: Any  # the same without logical types, for fastavro
    encode: Encoder  # Connect value -> fastavro datum; raises DataError for a value that does not fit


def connect_to_avro(schema: Schema | None, options: AvroDataOptions | None = None) -> WriteMapping:
    """The Avro schema Confluent writes for ``schema`` (None: schemaless, the Anything record) and its encoder."""
    options = options or AvroDataOptions()
    if schema is None:
        return WriteMapping(ANYTHING_SCHEMA, ANYTHING_SCHEMA, _anything)
    builder = _Builder(options)
    node, encode = builder.convert(schema)
    avro = _Printer().print(node)
    return WriteMapping(avro, strip_logical_types(avro), encode)


def strip_logical_types(avro: Any) -> Any:
    """A copy of an Avro schema without logical types (the binary encoding does not depend on them)."""
    if isinstance(avro, list):
        return [strip_logical_types(b) for b in avro]
    if not isinstance(avro, dict):
        return avro
    out = {k: strip_logical_types(v) if k in ("type", "items", "values") else v for k, v in avro.items()}
    out.pop("logicalType", None)
    if "fields" in avro:
        out["fields"] = [{**f, "type": strip_logical_types(f["type"])} for f in avro["fields"]]
    return out


# ============================================================================================
# Schema


@dataclass(eq=False)
class _Named:
    """A named Avro type being built (record, enum, fixed); printed once, then referred to by name."""

    kind: str
    full_name: str
    body: dict[str, Any]  # everything but type/name/namespace; record fields hold _Field objects
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False)
class _Field:
    name: str
    type: Any  # a node: str, list, dict or _Named
    doc: str | None
    default: Any  # _NO_DEFAULT or a JSON value
    props: dict[str, Any] = field(default_factory=dict)


_NO_DEFAULT = object()


def _name_of(node: Any) -> str:
    """fastavro's name for a union branch: a named type's full name, else the type's name."""
    if isinstance(node, _Named):
        return node.full_name
    if isinstance(node, str):
        return node
    if isinstance(node, dict):
        return node["type"]  # type: ignore[no-any-return]
    raise AvroSchemaError("a union cannot directly contain another union")


class _Builder:
    def __init__(self, options: AvroDataOptions) -> None:
        self.options = options
        self.cache: dict[Schema, tuple[Any, Encoder]] = {}  # required schema -> its Avro node (Confluent's schemaMap)
        self.cycles: dict[str, tuple[Any, _Cell, Schema]] = {}  # struct name -> its record, for recursive schemas
        self.seen_names: set[str] = set()
        self.defaults = 0

    def default_name(self) -> tuple[str, str]:
        self.defaults += 1
        return NAMESPACE, DEFAULT_SCHEMA_NAME + (str(self.defaults) if self.defaults > 1 else "")

    def names(self, name: str | None) -> tuple[str | None, str]:
        if name is None:
            return self.default_name()
        return split_name(name, self.options.scrub_invalid_names)

    # ------------------------------------------------------------------ conversion

    def with_cycle(self, schema: Schema, ignore_optional: bool = False) -> tuple[Any, Encoder]:
        """Confluent's ``fromConnectSchemaWithCycle``: a struct named like an enclosing one refers to it."""
        if schema.name is not None and schema.name in self.cycles:
            node, cell, first = self.cycles[schema.name]
            if cell.call is None or getattr(schema, "target", None) is not None:
                encode = cell.encode  # a back-reference of a recursive record: the record's own encoder
            elif _required(schema) == first:
                encode = cell.call
            else:
                # Another struct of that name: Confluent writes the first one's Avro record; the
                # value is checked against its own schema, which must have the same shape.
                other, encode = _Builder(self.options).convert(_required(schema), ignore_optional=True)
                if _shape(other, {}) != _shape(node, {}):
                    raise AvroSchemaError(
                        f"the name '{schema.name}' is used by two structs of different fields; Avro can write "
                        "only one of them"
                    )
            if not ignore_optional:
                return self.optional(schema, node, encode)
            return node, encode
        return self.convert(schema, ignore_optional)

    def convert(self, schema: Schema, ignore_optional: bool = False) -> tuple[Any, Encoder]:
        """Confluent's ``fromConnectSchema``."""
        union = _is_union(schema)
        if not union and not schema.optional and schema in self.cache:
            return self.cache[schema]
        kind = schema.type
        params = dict(schema.parameters or {})
        connect_type = None
        node: Any
        encode: Encoder
        if kind is Type.INT8 or kind is Type.INT16:
            connect_type = kind.value
            node, encode = {"type": "int"}, _integer(kind)
        elif kind is Type.INT32:
            node, encode = {"type": "int"}, _logical_encoder(schema, _integer(kind))
        elif kind is Type.INT64:
            node, encode = {"type": "long"}, _logical_encoder(schema, _integer(kind))
        elif kind is Type.FLOAT32:
            node, encode = {"type": "float"}, _float
        elif kind is Type.FLOAT64:
            node, encode = {"type": "double"}, _float
        elif kind is Type.BOOLEAN:
            node, encode = {"type": "boolean"}, _boolean
        elif kind is Type.STRING:
            node, encode = self.string(schema, params)
        elif kind is Type.BYTES:
            node, encode = self.bytes(schema, params)
        elif kind is Type.ARRAY:
            items, item_encode = self.with_cycle(schema.value_schema)  # type: ignore[arg-type]
            node, encode = {"type": "array", "items": items}, _array(item_encode, schema.value_schema)  # type: ignore[arg-type]
        elif kind is Type.MAP:
            node, encode = self.map(schema)
        elif union:
            node, encode = self.union(schema)
        elif schema.optional:
            inner, inner_encode = self.with_cycle(_required(schema))
            _accept(inner_encode, schema)
            node, encode = ["null", inner], _optional_union(inner_encode, _name_of(inner))
        else:
            node, encode = self.record(schema, params)

        if not isinstance(node, list):
            props = node.props if isinstance(node, _Named) else node
            self.metadata(schema, props, params, connect_type)
            if not ignore_optional:
                node, encode = self.optional(schema, node, encode)
        if not schema.optional:
            self.cache[schema] = (node, encode)
        return node, encode

    def metadata(self, schema: Schema, props: dict[str, Any], params: dict[str, str], connect_type: str | None) -> None:
        options = self.options
        if options.connect_meta_data:
            if schema.doc is not None:
                props[CONNECT_DOC] = schema.doc
            if schema.version is not None:
                props[CONNECT_VERSION] = schema.version
            kept = self.parameters(params)
            if kept:
                props[CONNECT_PARAMETERS] = kept
            if schema.default is not None and (options.discard_type_doc_default or FIELD_DEFAULT_FLAG not in params):
                props[CONNECT_DEFAULT] = self.default_json(schema, schema.default)
            if schema.name is not None:
                props[CONNECT_NAME] = schema.name
            if connect_type is not None:
                props[CONNECT_TYPE] = connect_type
        logical = schema.name
        if logical == DECIMAL_NAME:
            props["logicalType"] = "decimal"
        elif logical == TIME_NAME:
            props["logicalType"] = "time-millis"
        elif logical == TIMESTAMP_NAME:
            props["logicalType"] = "timestamp-millis"
        elif logical == DATE_NAME:
            props["logicalType"] = "date"
        for key, value in params.items():
            if key.startswith(AVRO_PROP_PREFIX):
                props[key] = value

    def parameters(self, params: Mapping[str, str]) -> dict[str, str]:
        if self.options.discard_type_doc_default:
            return dict(params)
        return {k: v for k, v in params.items() if k != FIELD_DEFAULT_FLAG}

    def optional(self, schema: Schema, node: Any, encode: Encoder) -> tuple[Any, Encoder]:
        """Confluent's ``maybeMakeOptional``: ``[null, X]``, or ``[X, null]`` when there is a default."""
        if not schema.optional:
            return node, encode
        if schema.default is not None:
            return [node, "null"], _optional_union(encode, _name_of(node))
        return ["null", node], _optional_union(encode, _name_of(node))

    def string(self, schema: Schema, params: dict[str, str]) -> tuple[Any, Encoder]:
        options = self.options
        if (options.generalized_sum_type_support or options.enhanced_avro_schema_support) and (
            GENERALIZED_ENUM in params or AVRO_TYPE_ENUM in params
        ):
            parameter = GENERALIZED_ENUM if options.generalized_sum_type_support else AVRO_TYPE_ENUM
            if parameter not in params:
                parameter = AVRO_TYPE_ENUM if parameter == GENERALIZED_ENUM else GENERALIZED_ENUM
            prefix = parameter + "."
            symbols = [key[len(prefix) :] for key in params if key.startswith(prefix)]
            simple = self.names(schema.name)[1]
            namespace, name = split_name(params[parameter], options.scrub_invalid_names)
            body: dict[str, Any] = {}
            if options.discard_type_doc_default:
                if params.get(CONNECT_ENUM_DOC) is not None:
                    body["doc"] = params[CONNECT_ENUM_DOC]
            else:
                if params.get(ENUM_DOC_PREFIX + simple) is not None:
                    body["doc"] = params[ENUM_DOC_PREFIX + simple]
                if params.get(ENUM_DEFAULT_PREFIX + simple) is not None:
                    body["default"] = params[ENUM_DEFAULT_PREFIX + simple]
            body["symbols"] = symbols
            full = f"{namespace}.{name}" if namespace else name
            return _Named("enum", full, body), _enum(full, frozenset(symbols))
        return {"type": "string"}, _string

    def bytes(self, schema: Schema, params: dict[str, str]) -> tuple[Any, Encoder]:
        size = None
        if schema.name is not None and FIXED_SIZE_PARAMETER in params:
            namespace, name = self.names(schema.name)
            size = int(params[FIXED_SIZE_PARAMETER])
            full = f"{namespace}.{name}" if namespace else name
            node: Any = _Named("fixed", full, {"size": size})
            props = node.props
        else:
            node = {"type": "bytes"}
            props = node
        if schema.name == DECIMAL_NAME:
            scale = int(params.get(DECIMAL_SCALE, 0))
            precision = int(params.get(PRECISION_PARAMETER, DEFAULT_PRECISION))
            props["scale"] = scale
            props["precision"] = precision
            return node, _decimal(scale, size)
        if size is not None:
            return node, _fixed(size)
        return node, _bytes

    def map(self, schema: Schema) -> tuple[Any, Encoder]:
        key_schema, value_schema = schema.key_schema, schema.value_schema
        if key_schema.type is Type.STRING and (  # type: ignore[union-attr]
            not key_schema.optional or self.options.allow_optional_map_keys  # type: ignore[union-attr]
        ):
            values, value_encode = self.with_cycle(value_schema)  # type: ignore[arg-type]
            return {"type": "map", "values": values}, _string_map(value_encode, value_schema)  # type: ignore[arg-type]
        if schema.name is None:
            entry = _Named("record", f"{NAMESPACE}.{MAP_ENTRY}", {})
        else:
            namespace, name = self.names(schema.name)
            entry = _Named("record", f"{namespace}.{name}" if namespace else name, {})
            entry.props[CONNECT_INTERNAL_TYPE] = MAP_ENTRY
        key_field, key_encode = self.field("key", key_schema, None)  # type: ignore[arg-type]
        value_field, value_encode = self.field("value", value_schema, None)  # type: ignore[arg-type]
        entry.body["fields"] = [key_field, value_field]
        return {"type": "array", "items": entry}, _entries(key_encode, value_encode, key_schema, value_schema)  # type: ignore[arg-type]

    def union(self, schema: Schema) -> tuple[Any, Encoder]:
        branches: list[Any] = ["null"] if schema.optional else []
        members: list[tuple[str, Encoder]] = []
        for fld in schema.fields:
            node, encode = self.with_cycle(_required(fld.schema), ignore_optional=True)
            _accept(encode, fld.schema)
            branches.append(node)
            members.append((_name_of(node), encode))
        return branches, _union(schema, members, self.options.ignore_default_for_nullables)

    def record(self, schema: Schema, params: dict[str, str]) -> tuple[Any, Encoder]:
        options = self.options
        namespace, name = self.names(schema.name)
        full = f"{namespace}.{name}" if namespace else name
        record = _Named("record", full, {})
        doc = params.get(CONNECT_RECORD_DOC if options.discard_type_doc_default else RECORD_DOC)
        if doc is not None:
            record.body["doc"] = doc
        cell = _Cell()
        if schema.name is not None:
            self.cycles[schema.name] = (record, cell, schema)
        fields: list[_Field] = []
        encoders: list[tuple[str, Encoder, Schema]] = []
        for fld in schema.fields:
            field_doc = None
            if not options.discard_type_doc_default:
                field_doc = params.get(FIELD_DOC_PREFIX + fld.name)
            avro_name = scrub_name(fld.name) if options.scrub_invalid_names else fld.name
            try:
                spec, encode = self.field(avro_name, fld.schema, field_doc)  # type: ignore[arg-type]
            except DataError as exc:
                raise exc.at(fld.name) from None
            fields.append(spec)
            encoders.append((avro_name, encode, fld.schema))
        record.body["fields"] = fields
        encode = _struct(schema, encoders, options.ignore_default_for_nullables)
        cell.call = encode
        return record, encode

    def field(self, name: str, schema: Schema, doc: str | None) -> tuple[_Field, Encoder]:
        """Confluent's ``addAvroRecordField``."""
        options = self.options
        if schema.default is not None:
            default: Any = self.default_json(schema, schema.default)
        elif schema.optional:
            default = None
        else:
            default = _NO_DEFAULT
        name_key = None
        if schema.name is not None:
            name_key = ".".join(p for p in split_name(schema.name, options.scrub_invalid_names) if p)
        already_seen = name_key is not None and name_key in self.seen_names
        if name_key is not None:
            self.seen_names.add(name_key)
        node, encode = self.convert(schema)
        spec = _Field(name, node, schema.doc if options.discard_type_doc_default else doc, default)
        if options.connect_meta_data and already_seen and schema.parameters and _is_named(node):
            kept = self.parameters(schema.parameters)
            if kept:
                spec.props[CONNECT_PARAMETERS] = kept
        return spec, encode

    def default_json(self, schema: Schema, value: Any) -> Any:
        """Confluent's ``defaultValueFromConnect``: a Connect default as Avro JSON."""
        if value is None:
            return None
        name = schema.name
        if name == DECIMAL_NAME:
            return decimal_to_bytes(value, schema.scale or 0).decode("latin-1")
        if name == DATE_NAME:
            return date_to_days(value)
        if name == TIME_NAME:
            return time_to_millis(value)
        if name == TIMESTAMP_NAME:
            return timestamp_to_millis(value)
        kind = schema.type
        if kind in INT_RANGES:
            return int(value)
        if kind is Type.FLOAT32 or kind is Type.FLOAT64:
            return float(value)
        if kind is Type.BOOLEAN or kind is Type.STRING:
            return value
        if kind is Type.BYTES:
            return bytes(value).decode("latin-1")
        if kind is Type.ARRAY:
            return [self.default_json(schema.value_schema, v) for v in value]  # type: ignore[arg-type]
        if kind is Type.MAP:
            key_schema = schema.key_schema
            if key_schema.type is Type.STRING and (not key_schema.optional or self.options.allow_optional_map_keys):  # type: ignore[union-attr]
                return {k: self.default_json(schema.value_schema, v) for k, v in value.items()}  # type: ignore[arg-type]
            return [
                [self.default_json(key_schema, k), self.default_json(schema.value_schema, v)]  # type: ignore[arg-type]
                for k, v in value.items()
            ]
        out = {}
        union = _is_union(schema)
        for fld in schema.fields:
            item = value.get(fld.name)
            converted = self.default_json(fld.schema, item)
            if union:
                return converted
            out[scrub_name(fld.name) if self.options.scrub_invalid_names else fld.name] = converted
        return out


class _Cell:
    """The encoder of a record that is still being built (a recursive schema refers to it)."""

    def __init__(self) -> None:
        self.call: Encoder | None = None

    def encode(self, value: Any) -> Any:
        return self.call(value)  # type: ignore[misc]


def _is_union(schema: Schema) -> bool:
    return schema.type is Type.STRUCT and (schema.name == UNION_NAME or GENERALIZED_UNION in (schema.parameters or {}))


def _is_named(node: Any) -> bool:
    if isinstance(node, _Named):
        return True
    if isinstance(node, list):
        return any(isinstance(b, _Named) for b in node)
    return False


def _required(schema: Schema) -> Schema:
    """Confluent's ``nonOptional``: the same schema, required."""
    if not schema.optional:
        return schema
    target = getattr(schema, "target", None)
    if target is not None and not target.optional:
        return target  # a recursive record's back-reference: the record itself
    return Schema(
        schema.type,
        optional=False,
        default=schema.default,
        name=schema.name,
        version=schema.version,
        doc=schema.doc,
        parameters=schema.parameters,
        fields=schema.fields,
        key_schema=schema.key_schema,
        value_schema=schema.value_schema,
    )


# ============================================================================================
# Printing: named types once, then by name (Avro 1.12's Schema.toString)


class _Printer:
    def __init__(self) -> None:
        self.printed: dict[str, _Named] = {}

    def print(self, node: Any, context: str = "") -> Any:
        """``context`` is the enclosing namespace, which names without one would otherwise inherit."""
        if isinstance(node, list):
            return [self.print(b, context) for b in node]
        if isinstance(node, str):
            return node
        if isinstance(node, _Named):
            first = self.printed.get(node.full_name)
            if first is not None:
                if first is not node and _shape(first, {}) != _shape(node, {}):
                    raise AvroSchemaError(
                        f"the name '{node.full_name}' is used by two different types; Avro can write only one of them"
                    )
                return node.full_name
            self.printed[node.full_name] = node
            namespace, _, name = node.full_name.rpartition(".")
            out: dict[str, Any] = {"type": node.kind, "name": name}
            if namespace or context:
                out["namespace"] = namespace  # "" stops a nameless type inheriting the enclosing one
            for key, value in node.body.items():
                if key == "fields":
                    out["fields"] = [self.field(f, namespace) for f in value]
                else:
                    out[key] = value
            out.update(node.props)
            return out
        out = dict(node)
        for key in ("items", "values"):
            if key in out:
                out[key] = self.print(out[key], context)
        return out if len(out) > 1 else out["type"]

    def field(self, spec: _Field, context: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": spec.name, "type": self.print(spec.type, context)}
        if spec.doc is not None:
            out["doc"] = spec.doc
        if spec.default is not _NO_DEFAULT and _valid_default(spec.type, spec.default):
            out["default"] = spec.default
        out.update(spec.props)
        return out


def _shape(node: Any, seen: dict[int, Any]) -> Any:
    """What a type is, without its metadata: two definitions of one name must agree on it."""
    if isinstance(node, list):
        return ("union", tuple(_shape(b, seen) for b in node))
    if isinstance(node, str):
        return node
    if isinstance(node, _Named):
        if id(node) in seen:
            return ("ref", node.full_name)
        seen[id(node)] = True
        body = tuple(
            (k, tuple((f.name, _shape(f.type, seen)) for f in v) if k == "fields" else v)
            for k, v in node.body.items()
            if k not in ("doc", "default")
        )
        return (node.kind, node.full_name, body)
    return tuple(
        (k, _shape(v, seen) if k in ("items", "values") else v) for k, v in sorted(node.items()) if k not in _METADATA
    )


def _valid_default(node: Any, value: Any) -> bool:
    """Whether Avro accepts ``value`` as the default of a field of type ``node`` (else it is dropped)."""
    if isinstance(node, list):
        return any(_valid_default(b, value) for b in node)
    if isinstance(node, _Named):
        if node.kind == "record":
            return isinstance(value, dict) and all(
                f.name in value and _valid_default(f.type, value[f.name]) or f.default is not _NO_DEFAULT
                for f in node.body["fields"]
            )
        if node.kind == "enum":
            return value in node.body["symbols"]
        return isinstance(value, str)
    kind = node if isinstance(node, str) else node["type"]
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("int", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("string", "bytes"):
        return isinstance(value, str)
    if kind == "array":
        return isinstance(value, list) and all(_valid_default(node["items"], v) for v in value)
    if kind == "map":
        return isinstance(value, dict) and all(_valid_default(node["values"], v) for v in value.values())
    return False


# ============================================================================================
# Values


def _integer(kind: Type) -> Encoder:
    low, high = INT_RANGES[kind]
    name = kind.value

    def encode(value: Any) -> Any:
        if type(value) is not int:
            if isinstance(value, int) and not isinstance(value, bool):
                value = int(value)
            else:
                raise DataError(f"expected an integer for {name}, got {describe_value(value)}")
        if not low <= value <= high:
            raise DataError(f"{value} is out of range for {name} ({low}..{high})")
        return value

    return encode


def _float(value: Any) -> Any:
    if type(value) is float:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise DataError(f"expected a float, got {describe_value(value)}")


def _boolean(value: Any) -> Any:
    if value is True or value is False:
        return value
    raise DataError(f"expected a bool for boolean, got {describe_value(value)}")


def _string(value: Any) -> Any:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    raise DataError(f"expected a str for string, got {describe_value(value)}")


def _bytes(value: Any) -> Any:
    if type(value) is bytes:
        return value
    if isinstance(value, _BYTES_LIKE):
        return bytes(value)
    raise DataError(f"expected bytes, got {describe_value(value)}")


def _fixed(size: int) -> Encoder:
    def encode(value: Any) -> Any:
        data = _bytes(value)
        if len(data) != size:
            raise DataError(f"a fixed of {size} bytes cannot hold {len(data)} bytes")
        return data

    return encode


def _decimal(scale: int, size: int | None) -> Encoder:
    def encode(value: Any) -> Any:
        if not isinstance(value, decimal.Decimal):
            raise DataError(f"expected a decimal.Decimal for Decimal(scale={scale}), got {describe_value(value)}")
        data = decimal_to_bytes(value, scale)
        if size is not None and len(data) != size:
            if len(data) > size:
                raise DataError(
                    f"decimal {value} needs {len(data)} bytes, more than the {size} bytes of its Avro fixed type"
                )
            data = (b"\xff" if data[0] & 0x80 else b"\x00") * (size - len(data)) + data  # sign extension
        return data

    return encode


def _enum(name: str, symbols: frozenset[str]) -> Encoder:
    def encode(value: Any) -> Any:
        if type(value) is not str:
            raise DataError(f"expected a str (a symbol of enum {name}), got {describe_value(value)}")
        if value not in symbols:
            raise DataError(f"'{value[:60]}' is not a symbol of enum {name} ({', '.join(sorted(symbols))})")
        return value

    return encode


def _array(item_encode: Encoder, item_schema: Schema) -> Encoder:
    required = not item_schema.optional

    def encode(value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise DataError(f"expected a list, got {describe_value(value)}")
        out = []
        for index, item in enumerate(value):
            try:
                if item is None:
                    if required:
                        raise DataError("null value for a required array element")
                    out.append(None)
                else:
                    out.append(item_encode(item))
            except DataError as exc:
                raise exc.at(index) from None
        return out

    return encode


def _string_map(value_encode: Encoder, value_schema: Schema) -> Encoder:
    required = not value_schema.optional

    def encode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise DataError(f"expected a mapping, got {describe_value(value)}")
        out = {}
        for key, item in value.items():
            try:
                if not isinstance(key, str):
                    if key is None:
                        raise DataError("null map key (Avro maps have string keys)")
                    raise DataError(f"expected a str map key, got {describe_value(key)}")
                if item is None:
                    if required:
                        raise DataError("null value for a required map value")
                    out[key] = None
                else:
                    out[key] = value_encode(item)
            except DataError as exc:
                raise exc.at_key(key) from None
        return out

    return encode


def _entries(key_encode: Encoder, value_encode: Encoder, key_schema: Schema, value_schema: Schema) -> Encoder:
    key_required, value_required = not key_schema.optional, not value_schema.optional

    def encode(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise DataError(f"expected a mapping, got {describe_value(value)}")
        out = []
        for key, item in value.items():
            try:
                if key is None and key_required:
                    raise DataError("null key for required map keys")
                if item is None and value_required:
                    raise DataError("null value for a required map value")
                out.append(
                    {
                        "key": None if key is None else key_encode(key),
                        "value": None if item is None else value_encode(item),
                    }
                )
            except DataError as exc:
                raise exc.at_key(key) from None
        return out

    return encode


def _optional_union(encode: Encoder, branch: str) -> Encoder:
    def encode_optional(value: Any) -> Any:
        return None if value is None else (branch, encode(value))

    return encode_optional


def _logical_encoder(schema: Schema, encode: Encoder) -> Encoder:
    name = schema.name
    if name == DATE_NAME:
        return _date
    if name == TIME_NAME:
        return _time
    if name == TIMESTAMP_NAME:
        return _timestamp
    return encode


def _date(value: Any) -> Any:
    if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
        raise DataError(f"expected a datetime.date for Date, got {describe_value(value)}")
    return date_to_days(value)


def _time(value: Any) -> Any:
    return time_to_millis(value)


def _timestamp(value: Any) -> Any:
    return timestamp_to_millis(value)


def _struct(schema: Schema, fields: list[tuple[str, Encoder, Schema]], ignore_defaults: bool) -> Encoder:
    plan = [(name, encode, fschema, not fschema.optional, fschema.default) for name, encode, fschema in fields]
    label = schema.label()
    accepted = [schema]  # the schema, and the optional schemas it is written for

    def encode(value: Any) -> Any:
        if not isinstance(value, Struct):
            raise DataError(f"expected a Struct for {label}, got {describe_value(value)}")
        actual = value.schema
        if actual is not schema and not any(actual is a or _same_struct(actual, a) for a in accepted):
            raise DataError(f"the struct's schema does not match {label} (a struct of another schema)")
        out = {}
        for (name, field_encode, _, required, default), item in zip(plan, value.raw_values(), strict=True):
            if item is None and not ignore_defaults:
                item = default
            try:
                if item is None:
                    if required:
                        raise DataError("null value for a required field")
                    out[name] = None
                else:
                    out[name] = field_encode(item)
            except DataError as exc:
                raise exc.at(name) from None
        return out

    encode.accepted = accepted  # type: ignore[attr-defined]
    return encode


def _accept(encode: Encoder, schema: Schema) -> None:
    """Let a struct encoder built for the required schema take values of ``schema`` (the optional one).

    Confluent checks a struct value against the schema where it stands; an optional struct is
    written with its required form's Avro record.
    """
    accepted = getattr(encode, "accepted", None)
    if accepted is not None and schema not in accepted:
        accepted.append(schema)


def _same_struct(actual: Schema, expected: Schema) -> bool:
    if actual == expected:
        return True
    # A recursive record's values nest under its back-references (CyclicSchema), which differ
    # from the record only in being optional.
    return (
        (getattr(actual, "target", None) is not None or getattr(expected, "target", None) is not None)
        and actual.name == expected.name
        and actual.fields == expected.fields
    )


def _union(schema: Schema, members: list[tuple[str, Encoder]], ignore_defaults: bool) -> Encoder:
    plan = [
        (fld.name, fld.schema.default, branch, encode)
        for fld, (branch, encode) in zip(schema.fields, members, strict=True)
    ]
    optional = schema.optional

    def encode(value: Any) -> Any:
        if not isinstance(value, Struct):
            raise DataError(f"expected a Struct for a union, got {describe_value(value)}")
        if value.schema is not schema and value.schema != schema:
            raise DataError("the union struct's schema does not match")
        for (name, default, branch, member_encode), item in zip(plan, value.raw_values(), strict=True):
            if item is None and not ignore_defaults:
                item = default
            if item is not None:
                try:
                    return branch, member_encode(item)
                except DataError as exc:
                    raise exc.at(name) from None
        if optional:
            return None
        raise DataError("no field of the union struct is set, and the union is not optional")

    return encode


def _anything(value: Any, *, _inner: bool = False) -> Any:
    """A schemaless value as Confluent's Anything record."""
    record: dict[str, Any] = dict.fromkeys(
        ("boolean", "bytes", "double", "float", "int", "long", "string", "array", "map")
    )
    if value is None:
        if _inner:
            return record
        return None
    if value is True or value is False:
        record["boolean"] = value
    elif type(value) is int or (isinstance(value, int) and not isinstance(value, bool)):
        record["int" if -(2**31) <= value < 2**31 else "long"] = int(value)
    elif isinstance(value, float):
        record["double"] = value
    elif isinstance(value, str):
        record["string"] = str(value)
    elif isinstance(value, _BYTES_LIKE):
        record["bytes"] = bytes(value)
    elif isinstance(value, (list, tuple)):
        record["array"] = [_anything(item, _inner=True) for item in value]
    elif isinstance(value, Mapping):
        record["map"] = [
            {"key": _anything(k, _inner=True), "value": _anything(v, _inner=True)} for k, v in value.items()
        ]
    else:
        raise DataError(
            f"a schemaless value cannot be {describe_value(value)} (Avro's Anything record has no place for it)"
        )
    return record
