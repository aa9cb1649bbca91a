"""What both directions of the Avro <-> Connect mapping share: Confluent's names, the options, errors.

The mapping is Confluent's ``AvroData`` (``io.confluent.connect.avro``), the class behind
``AvroConverter``: :mod:`.avro_to_connect` reads Avro (schema and binary) into Connect data,
:mod:`.avro_from_connect` writes Connect data as Avro, :mod:`.avro_data` ties both to one set of
options and caches. This module holds the vocabulary: the ``connect.*`` schema properties, the
parameter names Confluent keeps Avro facts in, the :class:`AvroDataOptions` (the converter
options ``connect.meta.data``, ``enhanced.avro.schema.support``, ``generalized.sum.type.support``,
``scrub.invalid.names``, ``allow.optional.map.keys``, ``flatten.singleton.unions``,
``ignore.default.for.nullables``, ``discard.type.doc.default``), Avro name handling, Confluent's
``Anything`` schema for schemaless data, and :class:`CyclicSchema`, the Connect schema of a
recursive record's back-reference.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from streamapp.data import DataError, Schema, Type

__all__ = [
    "ANYTHING_NAME",
    "ANYTHING_SCHEMA",
    "AVRO_TYPE_ENUM",
    "CONNECT_DEFAULT",
    "CONNECT_DOC",
    "CONNECT_NAME",
    "CONNECT_PARAMETERS",
    "CONNECT_TYPE",
    "CONNECT_VERSION",
    "DEFAULT_SCHEMA_FULL_NAME",
    "ENUM_DEFAULT_PREFIX",
    "ENUM_DOC_PREFIX",
    "ENUM_PARAMETER",
    "FIELD_DEFAULT_FLAG",
    "FIELD_DOC_PREFIX",
    "FIXED_SIZE_PARAMETER",
    "GENERALIZED_ENUM",
    "GENERALIZED_UNION",
    "MAP_ENTRY",
    "NAMESPACE",
    "PRECISION_PARAMETER",
    "RECORD_DOC",
    "UNION_NAME",
    "AvroDataOptions",
    "AvroSchemaError",
    "CyclicSchema",
    "full_name",
    "scrub_name",
    "split_name",
]

NAMESPACE = "io.confluent.connect.avro"
DEFAULT_SCHEMA_NAME = "ConnectDefault"
DEFAULT_SCHEMA_FULL_NAME = f"{NAMESPACE}.{DEFAULT_SCHEMA_NAME}"
MAP_ENTRY = "MapEntry"
UNION_NAME = f"{NAMESPACE}.Union"
ENUM_PARAMETER = AVRO_TYPE_ENUM = f"{NAMESPACE}.Enum"
ANYTHING_NAME = f"{NAMESPACE}.Anything"
GENERALIZED_UNION = "org.apache.kafka.connect.data.Union"
GENERALIZED_ENUM = "org.apache.kafka.connect.data.Enum"
GENERALIZED_UNION_PREFIX = "connect_union_"
GENERALIZED_UNION_FIELD_PREFIX = "connect_union_field_"

# Avro schema properties Confluent writes and reads
CONNECT_NAME = "connect.name"
CONNECT_DOC = "connect.doc"
CONNECT_VERSION = "connect.version"
CONNECT_DEFAULT = "connect.default"
CONNECT_PARAMETERS = "connect.parameters"
CONNECT_TYPE = "connect.type"
CONNECT_RECORD_DOC = "connect.record.doc"
CONNECT_ENUM_DOC = "connect.enum.doc"
CONNECT_INTERNAL_TYPE = "connect.internal.type"
AVRO_PROP_PREFIX = "avro"  # properties starting with it pass into Connect parameters unchanged

# Connect schema parameters that keep Avro facts Connect has no place for
RECORD_DOC = f"{NAMESPACE}.record.doc"
ENUM_DOC_PREFIX = f"{NAMESPACE}.enum.doc."
ENUM_DEFAULT_PREFIX = f"{NAMESPACE}.enum.default."
FIELD_DOC_PREFIX = f"{NAMESPACE}.field.doc."
FIELD_DEFAULT_FLAG = f"{NAMESPACE}.field.default"  # the Connect default came from the Avro field's default
FIXED_SIZE_PARAMETER = "connect.fixed.size"
PRECISION_PARAMETER = "connect.decimal.precision"
DEFAULT_PRECISION = 64  # Confluent's precision for a Connect Decimal without one

# Confluent's schema for schemaless Connect data: a self-referencing record holding one value.
ANYTHING_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "Anything",
    "namespace": NAMESPACE,
    "fields": [
        {"name": "boolean", "type": ["null", "boolean"], "default": None},
        {"name": "bytes", "type": ["null", "bytes"], "default": None},
        {"name": "double", "type": ["null", "double"], "default": None},
        {"name": "float", "type": ["null", "float"], "default": None},
        {"name": "int", "type": ["null", "int"], "default": None},
        {"name": "long", "type": ["null", "long"], "default": None},
        {"name": "string", "type": ["null", "string"], "default": None},
        {"name": "array", "type": ["null", {"type": "array", "items": "Anything"}], "default": None},
        {
            "name": "map",
            "type": [
                "null",
                {
                    "type": "array",
                    "items": {
                        "type": "record",
                        "name": MAP_ENTRY,
                        "namespace": NAMESPACE,
                        "fields": [{"name": "key", "type": "Anything"}, {"name": "value", "type": "Anything"}],
                    },
                },
            ],
            "default": None,
        },
    ],
}


class AvroSchemaError(DataError):
    """An Avro schema Connect data cannot represent (or a Connect schema Avro cannot)."""


@dataclass(frozen=True, slots=True)
class AvroDataOptions:
    """The options of Confluent's ``AvroDataConfig``, with its defaults."""

    connect_meta_data: bool = True
    enhanced_avro_schema_support: bool = False
    generalized_sum_type_support: bool = False
    scrub_invalid_names: bool = False
    allow_optional_map_keys: bool = False
    flatten_singleton_unions: bool = True
    ignore_default_for_nullables: bool = False
    discard_type_doc_default: bool = False


def full_name(name: str, namespace: str | None) -> str:
    """Avro's full name: a dotted name is already full; otherwise it is in ``namespace``."""
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _valid_name(name: str) -> bool:
    if not name or "0" <= name[0] <= "9":
        return False
    return all(c == "_" or "a" <= c <= "z" or "A" <= c <= "Z" or "0" <= c <= "9" for c in name)


def scrub_name(name: str | None) -> str | None:
    """Confluent's ``scrub.invalid.names`` for one name part: URL-encode, then ``_`` for what Avro refuses."""
    if not name or _valid_name(name):
        return name
    encoded = _url_encode(name)
    if "0" <= encoded[0] <= "9":
        encoded = "x" + encoded
    return "".join(c if c == "_" or c.isascii() and c.isalnum() else "_" for c in encoded)


def _url_encode(text: str) -> str:
    """Java's ``URLEncoder.encode(text, "UTF-8")``: what scrubbing starts from."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char.isascii() and (char.isalnum() or char in ".-*_"):
            out.append(char)
        elif char == " ":
            out.append("+")
        else:
            out.append(f"%{byte:02X}")
    return "".join(out)


def split_name(name: str, scrub: bool = False) -> tuple[str | None, str]:
    """(namespace or None, simple name) of a dotted full name, each part scrubbed if asked."""
    parts = name.split(".")
    if scrub:
        parts = [scrub_name(p) or "" for p in parts]
    if len(parts) <= 1:
        return None, parts[0]
    return ".".join(parts[:-1]), parts[-1]


# --------------------------------------------------------------------------------------------
# Recursive schemas


_comparing = threading.local()


class CyclicSchema(Schema):
    """The Connect schema where a recursive Avro record refers back to itself (or an enclosing record).

    Connect schemas are trees; a recursive record (``{"name": "next", "type": ["null", "Node"]}``)
    makes a graph. Like Confluent's ``CyclicSchemaWrapper``, this schema stands for the enclosing
    record's schema with its own ``optional`` flag: every attribute but ``optional`` is the
    target's, filled in by :meth:`bind` once the target exists. Its hash is that of the name alone
    and equality compares the target's fields with a guard against endless recursion, so the
    schema graph can be hashed, compared and printed. Values are plain :class:`Struct`\\ s whose
    schema is this object; walking a value never loops, since the value itself is finite.
    """

    def __init__(self, name: str | None, optional: bool) -> None:  # noqa: D107 - see the class
        set_ = object.__setattr__
        set_(self, "type", Type.STRUCT)
        set_(self, "optional", optional)
        for attr in ("default", "version", "doc", "parameters", "key_schema", "value_schema"):
            set_(self, attr, None)
        set_(self, "name", name)
        set_(self, "fields", ())
        set_(self, "_by_name", {})
        set_(self, "_scale", None)
        set_(self, "_hash", hash((Type.STRUCT, optional, name, "cyclic")))
        set_(self, "target", None)

    def bind(self, target: Schema) -> None:
        """Take every attribute of ``target`` (the finished record schema) but ``optional``."""
        set_ = object.__setattr__
        for attr in ("default", "version", "doc", "parameters", "fields", "name", "_by_name"):
            set_(self, attr, getattr(target, attr))
        set_(self, "target", target)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Schema):
            return NotImplemented
        pairs = getattr(_comparing, "pairs", None)
        if pairs is None:
            pairs = _comparing.pairs = set()
        key = (id(self), id(other))
        if key in pairs:
            return True  # already being compared further up: equal unless something else differs
        pairs.add(key)
        try:
            return (
                other.type is Type.STRUCT
                and self.optional == other.optional
                and self.name == other.name
                and self.version == other.version
                and self.doc == other.doc
                and (self.parameters or None) == (other.parameters or None)
                and self.fields == other.fields
            )
        finally:
            pairs.discard(key)

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined,no-any-return]

    def __repr__(self) -> str:
        return f"CyclicSchema({self.name!r}, optional={self.optional})"
