"""Avro schema resolution checks, for the registry's compatibility levels.

``reader_problems(reader, writer)`` lists why data written with ``writer`` cannot be read with
``reader`` under the Avro specification's resolution rules (empty: it can). Named types are
expanded first (fastavro's ``expand_schema``), so references compare like definitions.
"""

from __future__ import annotations

from typing import Any

from fastavro.schema import expand_schema

__all__ = ["LEVELS", "compatibility_problems", "reader_problems"]

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")

# writer type -> reader types that can read it (the Avro spec's promotions)
_PROMOTIONS = {
    "int": {"int", "long", "float", "double"},
    "long": {"long", "float", "double"},
    "float": {"float", "double"},
    "string": {"string", "bytes"},
    "bytes": {"bytes", "string"},
}
_MAX_DEPTH = 64


def compatibility_problems(level: str, new: Any, existing: list[Any]) -> list[str]:
    """Problems registering ``new`` at ``level`` after ``existing`` (oldest first)."""
    if level == "NONE" or not existing:
        return []
    previous = existing if level.endswith("_TRANSITIVE") else existing[-1:]
    problems: list[str] = []
    for old in previous:
        if level.startswith(("BACKWARD", "FULL")):
            problems += reader_problems(new, old)
        if level.startswith(("FORWARD", "FULL")):
            problems += reader_problems(old, new)
    return problems


def reader_problems(reader: Any, writer: Any) -> list[str]:
    return _check(_normal(expand_schema(reader)), _normal(expand_schema(writer)), "", 0)


def _normal(schema: Any) -> Any:
    if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)) and "name" not in schema:
        return _normal(schema["type"])
    return schema


def _type(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        kind = schema.get("type")
        return kind if isinstance(kind, str) else _type(kind)
    return str(schema)


def _name(schema: Any) -> str:
    name = schema.get("name", "")
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _check(reader: Any, writer: Any, where: str, depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return []  # recursive types: assume the recursion repeats what was already checked
    at = where or "/"
    rt, wt = _type(reader), _type(writer)
    if wt == "union":
        out: list[str] = []
        for branch in writer:
            out += _check(reader, _normal(branch), where, depth + 1)
        return out
    if rt == "union":
        for branch in reader:
            if not _check(_normal(branch), writer, where, depth + 1):
                return []
        return [f"{at}: reader union {_short(reader)} has no branch for writer type {wt}"]
    if rt in ("record", "enum", "fixed") or wt in ("record", "enum", "fixed"):
        if rt != wt:
            return [f"{at}: reader type {rt} cannot read writer type {wt}"]
        aliases = set(reader.get("aliases", ()))
        if _name(reader) != _name(writer) and writer.get("name") not in aliases and _name(writer) not in aliases:
            return [f"{at}: reader {rt} '{_name(reader)}' does not match writer {rt} '{_name(writer)}'"]
        if rt == "fixed":
            if reader.get("size") != writer.get("size"):
                return [f"{at}: fixed size {writer.get('size')} cannot be read as size {reader.get('size')}"]
            return []
        if rt == "enum":
            missing = [s for s in writer.get("symbols", ()) if s not in reader.get("symbols", ())]
            if missing and "default" not in reader:
                return [f"{at}: reader enum '{_name(reader)}' lacks symbols {missing} and has no default"]
            return []
        written = {f["name"]: f for f in writer.get("fields", ())}
        out = []
        for field in reader.get("fields", ()):
            source = written.get(field["name"])
            if source is None:
                for alias in field.get("aliases", ()):
                    source = written.get(alias)
                    if source is not None:
                        break
            path = f"{where}/{field['name']}"
            if source is None:
                if "default" not in field:
                    out.append(f"{path}: reader field '{field['name']}' is new and has no default")
                continue
            out += _check(_normal(field["type"]), _normal(source["type"]), path, depth + 1)
        return out
    if rt == "array" and wt == "array":
        return _check(_normal(reader["items"]), _normal(writer["items"]), where + "/items", depth + 1)
    if rt == "map" and wt == "map":
        return _check(_normal(reader["values"]), _normal(writer["values"]), where + "/values", depth + 1)
    if rt == wt or rt in _PROMOTIONS.get(wt, ()):
        return []
    return [f"{at}: reader type {rt} cannot read writer type {wt}"]


def _short(schema: Any) -> str:
    return "[" + ", ".join(_type(_normal(b)) for b in schema) + "]"
