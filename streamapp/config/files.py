"""Reading connector config files in the forms Kafka Connect users already have.

Three forms are accepted, told apart by content rather than by file name alone:

* the REST payload ``{"name": "...", "config": {...}}`` (what ``POST /connectors`` takes);
* the flat JSON object with ``name`` among the keys (Confluent Cloud custom connectors);
* Java ``.properties`` (``connect-standalone`` files), parsed by :mod:`jproperties`, which
  implements the Java rules (``=``/``:``/blank separators, ``\\`` continuations, ``\\uXXXX``).

A JSON file may also hold a list of either JSON form, so a ConfigMap can carry several.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jproperties import Properties

from streamapp.errors import ConfigError

__all__ = ["RawConnectorConfig", "read_connector_file", "discover_connector_files", "CONFIG_SUFFIXES"]

CONFIG_SUFFIXES = (".json", ".properties")


@dataclass(frozen=True)
class RawConnectorConfig:
    """One connector's key/value pairs exactly as written, with where they came from."""

    source: str  # file path, plus "[i]" for the i-th entry of a JSON list
    props: dict[str, Any]


def discover_connector_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and directories (non-recursively, sorted) into connector config files."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix in CONFIG_SUFFIXES))
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError(
                "no such file or directory; give connector config files (.json, .properties) or directories holding them",
                source=str(path),
            )
    return found


def read_connector_file(path: str | Path) -> list[RawConnectorConfig]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read file: {exc.strerror}", source=str(path)) from exc
    if path.suffix == ".properties":
        return [RawConnectorConfig(str(path), _parse_properties(data, path))]
    return _parse_json(data, path)


def _parse_properties(data: bytes, path: Path) -> dict[str, Any]:
    props = Properties()
    try:
        # Java reads .properties as ISO-8859-1 unless told otherwise; Connect files are UTF-8 in
        # practice and \uXXXX escapes cover the rest, so UTF-8 is the useful choice.
        props.load(data, "utf-8")
    except Exception as exc:  # jproperties raises its own ParseError and UnicodeDecodeError
        raise ConfigError(f"not a valid Java .properties file: {exc}", source=str(path)) from exc
    return {key: value.data for key, value in props.items()}


def _parse_json(data: bytes, path: Path) -> list[RawConnectorConfig]:
    try:
        doc = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", source=str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not valid JSON: the file is not UTF-8 text", source=str(path)) from exc
    if isinstance(doc, list):
        return [_json_entry(item, f"{path}[{i}]") for i, item in enumerate(doc)]
    return [_json_entry(doc, str(path))]


def _json_entry(doc: Any, source: str) -> RawConnectorConfig:
    if not isinstance(doc, dict):
        raise ConfigError(
            'expected a JSON object: {"name": ..., "config": {...}} or a flat object with "name" and "connector.class"',
            source=source,
        )
    if "config" in doc and isinstance(doc["config"], dict):
        # REST payload form. Connect takes the name from the envelope; a "name" inside "config"
        # must agree with it (Connect rejects a mismatch the same way).
        extra = sorted(set(doc) - {"name", "config", "initial_state"})
        if extra:
            raise ConfigError(
                f'unexpected top-level keys {extra} next to "config"; only "name" and "config" are allowed there',
                source=source,
            )
        props = dict(doc["config"])
        outer = doc.get("name")
        inner = props.get("name")
        if outer is not None and inner is not None and str(outer) != str(inner):
            raise ConfigError(
                f"connector name '{outer}' does not match the name '{inner}' inside \"config\"",
                source=source,
                key="name",
            )
        if outer is not None:
            props["name"] = outer
        return RawConnectorConfig(source, props)
    if "config" in doc:
        raise ConfigError('"config" must be a JSON object of connector keys', source=source, key="config")
    return RawConnectorConfig(source, dict(doc))
