"""Parsed KCQL statements: what a sink reads from ``INSERT INTO <target> SELECT ... FROM <source>``.

Immutable and hashable, so a projection can be compiled once per statement and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["FieldPath", "IgnoredClause", "Selection", "Statement"]

_PLAIN = re.compile(r"[A-Za-z0-9_@$-]+")


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A field, possibly nested: ``a.b.c`` is ``("a", "b", "c")``."""

    parts: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(p if _PLAIN.fullmatch(p) else f"`{p}`" for p in self.parts)

    @property
    def leaf(self) -> str:
        return self.parts[-1]


@dataclass(frozen=True, slots=True)
class Selection:
    """One entry of the SELECT list (other than ``*``): a field and its optional alias."""

    path: FieldPath
    alias: str | None = None
    position: int = 0  # character offset in the KCQL text, for messages

    @property
    def name(self) -> str:
        """The output field name: the alias, else the last part of the path (KCQL's ``getName``)."""
        return self.alias if self.alias is not None else self.path.leaf

    def __str__(self) -> str:
        return f"{self.path} AS {self.alias}" if self.alias is not None else str(self.path)


@dataclass(frozen=True, slots=True)
class IgnoredClause:
    """A KCQL clause this connector accepts but does not use (``WITHFORMAT JSON``, ``PK a``...)."""

    keyword: str
    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Statement:
    """One KCQL statement. ``index`` is its 1-based place in the ``;``-separated list."""

    target: str
    source: str
    select_all: bool
    fields: tuple[Selection, ...]
    ignored_fields: tuple[FieldPath, ...]
    ignored_clauses: tuple[IgnoredClause, ...] = ()
    write_mode: str = "INSERT"
    text: str = ""
    index: int = 1
    position: int = 0

    @property
    def is_identity(self) -> bool:
        """``SELECT *`` with no alias and nothing ignored: the value passes through unchanged."""
        return (
            self.select_all
            and not self.ignored_fields
            and all(s.alias is None for s in self.fields)
            and all(len(s.path.parts) == 1 for s in self.fields)
        )

    def __str__(self) -> str:
        return self.text
