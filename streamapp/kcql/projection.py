"""KCQL projection: the fields a statement selects, renamed, from any kind of record value.

The same rules apply to every payload kind (the Stream Reactor sink removed unselected fields
only from structs, and let nested selections fail):

* a **Struct** with its schema (JsonConverter with schemas, Avro);
* a **string** holding JSON text (a STRING schema, or a schemaless string): parsed first;
* a **schemaless map** (JsonConverter without schemas) or a MAP schema with text keys.

Rules, with ``value = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}``:

* ``SELECT *`` -> the value unchanged; ``SELECT * ... IGNORE e, b.d`` -> ``{"a": 1, "b": {"c": 2}}``.
* ``SELECT a, b.c AS bc`` -> ``{"a": 1, "bc": 2}``: only the selected fields, in SELECT order; a
  nested field without alias is named after its last part (``b.c`` -> ``c``).
* ``SELECT *, a AS x`` -> ``{"x": 1, "b": {...}, "e": 4}``: ``*`` keeps every field, an alias of a
  top-level field renames it in place, a nested field with ``*`` is added at the top level.
* IGNORE wins over SELECT: ``SELECT a, e FROM t IGNORE e`` -> ``{"a": 1}``.
* A selected field missing from a struct's schema is an error (the schema says it cannot be
  there); missing from a map or JSON object it is left out (JSON fields are often optional).
  A field through a null is null.
* With ``SELECT *`` and nothing renamed or ignored, any JSON value passes (arrays, numbers);
  otherwise the value must be an object. Null values, text that is not JSON, and values of other
  schema types (int32, bytes, ...) are errors: :class:`ProjectionError`, a record error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from streamapp.data import Schema, Struct, Type

from .errors import ProjectionError
from .json_tree import ALL, IgnoreTrie, to_json
from .statement import FieldPath, Selection, Statement

__all__ = ["Projection", "project"]

_MISSING = object()
_EXCERPT = 64


def _ignore_trie(paths: tuple[FieldPath, ...]) -> IgnoreTrie:
    trie: IgnoreTrie = {}
    for path in paths:
        node = trie
        for part in path.parts[:-1]:
            child = node.get(part)
            if child is ALL:
                break
            if child is None:
                child = node[part] = {}
            node = child
        else:
            node[path.parts[-1]] = ALL
    return trie


def _subtrie(trie: IgnoreTrie, parts: tuple[str, ...]) -> Any:
    """The ignore trie under ``parts``: ALL if ``parts`` (or a parent) is ignored, None if nothing is."""
    node: Any = trie
    for part in parts:
        if not node:
            return None
        node = node.get(part)
        if node is ALL:
            return ALL
    return node or None


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return f"a {type(value).__name__}"


class Projection:
    """A statement compiled for repeated use: :meth:`apply` maps one record value."""

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self.identity = statement.is_identity
        self.select_all = statement.select_all
        self.ignore = _ignore_trie(statement.ignored_fields)
        self.renames = {s.path.parts[0]: s.name for s in statement.fields if len(s.path.parts) == 1 and s.alias}
        # With '*', top-level selections are already there; nested ones are added at the top level.
        self.added = tuple(s for s in statement.fields if len(s.path.parts) > 1) if statement.select_all else ()
        self.selections = statement.fields

    # -- the payload kinds

    def apply(self, schema: Schema | None, value: Any) -> Any:
        """The projected value as a JSON tree; raises :class:`ProjectionError`."""
        if value is None:
            raise ProjectionError("the value is null (a tombstone): there is nothing to send")
        if isinstance(value, Struct):
            return self._project(value.schema, value)
        kind = schema.type if schema is not None else None
        if isinstance(value, str) and kind in (None, Type.STRING):
            return self._from_json_text(value)
        if isinstance(value, Mapping) and kind in (None, Type.MAP):
            if schema is not None and schema.key_schema.type is not Type.STRING:  # type: ignore[union-attr]
                raise ProjectionError(f"a {schema.label()} has no JSON object form: its keys are not text")
            return self._project(schema, value)
        if kind is None and self.identity and isinstance(value, (list, int, float, bool)):
            return to_json(None, value)
        if kind is None:
            raise ProjectionError(
                f"cannot select fields from {_describe(value)}; '{self.statement}' needs a JSON object"
            )
        raise ProjectionError(
            f"values with a {schema.label()} schema are not supported: the CoAP sink sends structs, "  # type: ignore[union-attr]
            "maps, and strings holding JSON"
        )

    def _from_json_text(self, text: str) -> Any:
        try:
            document = json.loads(text)
        except ValueError as exc:
            shown = text if len(text) <= _EXCERPT else text[:_EXCERPT] + f"... ({len(text)} characters)"
            raise ProjectionError(f"the string value is not JSON ({exc}): {shown!r}") from None
        except RecursionError:
            raise ProjectionError("the JSON text is nested too deeply") from None
        if isinstance(document, dict):
            return self._project(None, document)
        if self.identity:
            return document
        raise ProjectionError(
            f"cannot select fields from {_describe(document)}; '{self.statement}' needs a JSON object"
        )

    # -- selection

    def _project(self, schema: Schema | None, node: Struct | Mapping) -> Any:
        if self.identity:
            return to_json(schema, node)
        out: dict[str, Any] = {}
        if self.select_all:
            for name, child_schema, child in _children(schema, node):
                sub = self.ignore.get(name) if self.ignore else None
                if sub is ALL:
                    continue
                try:
                    out[self.renames.get(name, name)] = to_json(child_schema, child, sub)
                except ProjectionError as exc:
                    raise exc.at(name) from None
            selections = self.added
        else:
            selections = self.selections
        for selection in selections:
            self._select(schema, node, selection, out)
        return out

    def _select(self, schema: Schema | None, node: Any, selection: Selection, out: dict[str, Any]) -> None:
        parts = selection.path.parts
        sub = _subtrie(self.ignore, parts)
        if sub is ALL:
            return
        child_schema, child = _lookup(schema, node, selection.path)
        if child is _MISSING:
            return
        try:
            out[selection.name] = to_json(child_schema, child, sub)
        except ProjectionError as exc:
            raise exc.at(str(selection.path)) from None


def _children(schema: Schema | None, node: Any) -> Any:
    if isinstance(node, Struct):
        for fld, (name, value) in zip(node.schema.fields, node.items(), strict=True):
            yield name, fld.schema, value
        return
    item_schema = schema.value_schema if schema is not None else None
    for key, value in node.items():
        if not isinstance(key, str):
            raise ProjectionError(f"a JSON object needs text keys, got the key {key!r}")
        yield key, item_schema, value


def _lookup(schema: Schema | None, node: Any, path: FieldPath) -> tuple[Schema | None, Any]:
    """(schema, value) at ``path``; value ``_MISSING`` when a map or object lacks it."""
    for depth, part in enumerate(path.parts):
        if node is None:
            return None, None
        if isinstance(node, Struct):
            fld = node.schema.field(part)
            if fld is None:
                where = f" in '{FieldPath(path.parts[:depth])}'" if depth else ""
                names = ", ".join(f.name for f in node.schema.fields)
                raise ProjectionError(f"selected field '{path}' does not exist{where}; the struct has: {names}")
            schema, node = fld.schema, node.get(part)
        elif isinstance(node, Mapping):
            if part not in node:
                return None, _MISSING
            schema = schema.value_schema if schema is not None and schema.type is Type.MAP else None
            node = node[part]
        else:
            parent = FieldPath(path.parts[:depth])
            raise ProjectionError(f"cannot select '{path}': '{parent}' is {_describe(node)}, not an object")
    return schema, node


_cache: dict[Statement, Projection] = {}


def project(statement: Statement, schema: Schema | None, value: Any) -> Any:
    """Project one value with ``statement`` (compiled once per statement and cached)."""
    projection = _cache.get(statement)
    if projection is None:
        if len(_cache) > 1024:
            _cache.clear()
        projection = _cache[statement] = Projection(statement)
    return projection.apply(schema, value)
