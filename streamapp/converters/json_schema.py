"""Connect schemas <-> the JSON schema objects of JsonConverter's ``{"schema": ..., "payload": ...}`` envelope.

The JSON form is Connect's (``JsonConverter.asConnectSchema`` / ``asJsonSchema``)::

    {"type": "struct", "fields": [{"type": "int32", "optional": false, "field": "id"}, ...],
     "optional": false, "name": "com.example.Person", "version": 2, "doc": "...",
     "parameters": {"k": "v"}, "default": ...}

Types ``int8 int16 int32 int64 float double boolean string bytes array map struct``: FLOAT32 and
FLOAT64 are ``float`` and ``double`` here, although Connect's own type names are ``float32`` and
``float64`` (``JsonSchema.FLOAT_TYPE_NAME`` / ``DOUBLE_TYPE_NAME``); Connect refuses any other name.
Arrays carry ``items``, maps ``keys`` and ``values``, structs ``fields`` (each a schema with a
``field`` name). Unlike Connect, ``float32`` and ``float64`` are read too (streamapp wrote them
before it followed Connect, so topics hold such records), an explicit ``"default": null`` means
"no default" (Connect rejects it on a required schema), and every problem names where in the
schema it is (``schema.fields[2]``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from streamapp.data import DataError, Field, Schema, Type

from .errors import ConversionError
from .json_values import JsonValueCodec, json_kind

__all__ = ["schema_from_json", "schema_to_json", "TYPE_NAMES"]

# Connect's names in the JSON schema: its type names, except for the two floating-point types.
_JSON_NAMES = {t: t.value for t in Type} | {Type.FLOAT32: "float", Type.FLOAT64: "double"}
TYPE_NAMES = tuple(_JSON_NAMES.values())
_BY_NAME = {name: t for t, name in _JSON_NAMES.items()} | {t.value: t for t in (Type.FLOAT32, Type.FLOAT64)}


def schema_from_json(node: Any, codec: JsonValueCodec) -> Schema | None:
    """A Connect schema from its JSON form (None for JSON null); :class:`ConversionError` if malformed."""
    if node is None:
        return None
    if type(node) is not dict:
        raise ConversionError(f"a schema must be a JSON object or null, got {json_kind(node)}")
    type_name = node.get("type")
    if type(type_name) is not str:
        raise ConversionError(f"a schema must contain a 'type' field with a type name, got {json_kind(type_name)}")
    kind = _BY_NAME.get(type_name)
    if kind is None:
        raise ConversionError(f"unknown schema type '{type_name[:40]}'; expected one of {', '.join(TYPE_NAMES)}")
    fields: tuple[Field, ...] = ()
    key_schema = value_schema = None
    if kind is Type.ARRAY:
        value_schema = _required_child(node, "items", "an array schema needs the schema of its elements", codec)
    elif kind is Type.MAP:
        key_schema = _required_child(node, "keys", "a map schema needs the schema of its keys", codec)
        value_schema = _required_child(node, "values", "a map schema needs the schema of its values", codec)
    elif kind is Type.STRUCT:
        fields = _fields(node, codec)
    name = node.get("name")
    version = node.get("version")
    doc = node.get("doc")
    try:
        schema = Schema(
            kind,
            optional=node.get("optional") is True,
            name=name if type(name) is str else None,
            # Connect keeps an integral version and ignores anything else.
            version=version if type(version) is int else None,
            doc=doc if type(doc) is str else None,
            parameters=_parameters(node),
            fields=fields,
            key_schema=key_schema,
            value_schema=value_schema,
        )
    except ConversionError:
        raise
    except DataError as exc:
        raise ConversionError(exc.reason) from None
    default = node.get("default")
    if default is not None:
        try:
            value = codec.reader(schema)(default)
        except DataError as exc:
            raise exc.at("default") from None
        try:
            schema = dataclasses.replace(schema, default=value)
        except DataError as exc:
            raise ConversionError(exc.reason).at("default") from None
    return schema


def _required_child(node: dict[str, Any], key: str, what: str, codec: JsonValueCodec) -> Schema:
    child = node.get(key)
    if child is None:
        raise ConversionError(f"{what} ('{key}')")
    try:
        return schema_from_json(child, codec)  # type: ignore[return-value]
    except DataError as exc:
        raise exc.at(key) from None


def _fields(node: dict[str, Any], codec: JsonValueCodec) -> tuple[Field, ...]:
    items = node.get("fields")
    if type(items) is not list:
        raise ConversionError(f"a struct schema's 'fields' must be a JSON array, got {json_kind(items)}")
    fields = []
    seen = set()
    for index, item in enumerate(items):
        try:
            if type(item) is not dict or type(item.get("field")) is not str:
                raise ConversionError("a struct field must be a schema object with a 'field' name")
            name = item["field"]
            if name in seen:
                raise ConversionError(f"struct field name '{name}' is used twice")
            seen.add(name)
            fields.append(Field(name, index, schema_from_json(item, codec)))  # type: ignore[arg-type]
        except DataError as exc:
            raise exc.at(index).at("fields") from None
    return tuple(fields)


def _parameters(node: dict[str, Any]) -> dict[str, str] | None:
    params = node.get("parameters")
    if type(params) is not dict:
        return None
    for key, value in params.items():
        if type(value) is not str:
            raise ConversionError(f"schema parameters must have string values; '{key}' is {json_kind(value)}")
    return params


def schema_to_json(schema: Schema | None, codec: JsonValueCodec) -> dict[str, Any] | None:
    """The JSON form of ``schema``, keys in Connect's order (None for no schema)."""
    if schema is None:
        return None
    out: dict[str, Any] = {"type": _JSON_NAMES[schema.type]}
    if schema.type is Type.ARRAY:
        out["items"] = schema_to_json(schema.value_schema, codec)
    elif schema.type is Type.MAP:
        out["keys"] = schema_to_json(schema.key_schema, codec)
        out["values"] = schema_to_json(schema.value_schema, codec)
    elif schema.type is Type.STRUCT:
        out["fields"] = [{**schema_to_json(f.schema, codec), "field": f.name} for f in schema.fields]  # type: ignore[dict-item]
    out["optional"] = schema.optional
    if schema.name is not None:
        out["name"] = schema.name
    if schema.version is not None:
        out["version"] = schema.version
    if schema.doc is not None:
        out["doc"] = schema.doc
    if schema.parameters is not None:
        out["parameters"] = dict(schema.parameters)
    if schema.default is not None:
        out["default"] = codec.writer(schema)(schema.default)
    return out
