"""KCQL, the Kafka Connect Query Language of Stream Reactor connectors: parsing and projection.

    statements = parse("INSERT INTO sensors/temp SELECT id, t AS celsius FROM readings IGNORE raw")
    value = project(statements[0], record.value_schema, record.value)   # a JSON-able tree

:func:`parse` raises :class:`KcqlSyntaxError` with the line, column and a caret excerpt;
:func:`project` raises :class:`ProjectionError`, a record error. See :mod:`.parser` for the
grammar and :mod:`.projection` for what projection does with each kind of value.
"""

from __future__ import annotations

from .errors import KcqlSyntaxError, ProjectionError, caret_excerpt
from .parser import CLAUSE_KEYWORDS, parse
from .projection import Projection, project
from .statement import FieldPath, IgnoredClause, Selection, Statement

__all__ = [
    "CLAUSE_KEYWORDS",
    "FieldPath",
    "IgnoredClause",
    "KcqlSyntaxError",
    "Projection",
    "ProjectionError",
    "Selection",
    "Statement",
    "caret_excerpt",
    "parse",
    "project",
]
