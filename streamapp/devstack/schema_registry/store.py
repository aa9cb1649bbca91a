"""The registry's in-memory state: schemas by id, subjects' versions, compatibility levels.

Kept apart from the HTTP server so a test can stop the server and start a new one on the same
port with the same store (a registry outage that loses nothing).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Registered", "SchemaStore", "canonical"]


def canonical(schema: Any) -> str:
    """The schema's identity: its JSON without insignificant whitespace."""
    return json.dumps(schema, separators=(",", ":"))


@dataclass(frozen=True)
class Registered:
    subject: str
    version: int
    id: int
    text: str


@dataclass
class SchemaStore:
    compatibility: str = "BACKWARD"
    schemas: dict[int, str] = field(default_factory=dict)  # id -> canonical text
    ids: dict[str, int] = field(default_factory=dict)  # canonical text -> id
    subjects: dict[str, list[int]] = field(default_factory=dict)  # subject -> ids by version (1-based)
    subject_compatibility: dict[str, str] = field(default_factory=dict)

    def level(self, subject: str | None) -> str:
        if subject is not None and subject in self.subject_compatibility:
            return self.subject_compatibility[subject]
        return self.compatibility

    def find(self, subject: str, text: str) -> Registered | None:
        schema_id = self.ids.get(text)
        versions = self.subjects.get(subject, [])
        if schema_id is None or schema_id not in versions:
            return None
        return Registered(subject, versions.index(schema_id) + 1, schema_id, text)

    def add(self, subject: str, text: str) -> Registered:
        """Register ``text`` under ``subject`` (compatibility already checked); idempotent."""
        existing = self.find(subject, text)
        if existing is not None:
            return existing
        schema_id = self.ids.get(text)
        if schema_id is None:  # the same schema under another subject keeps its id, as Confluent does
            schema_id = len(self.schemas) + 1
            self.schemas[schema_id] = text
            self.ids[text] = schema_id
        versions = self.subjects.setdefault(subject, [])
        versions.append(schema_id)
        return Registered(subject, len(versions), schema_id, text)

    def version(self, subject: str, version: int) -> Registered | None:
        versions = self.subjects.get(subject, [])
        if not 1 <= version <= len(versions):
            return None
        schema_id = versions[version - 1]
        return Registered(subject, version, schema_id, self.schemas[schema_id])
