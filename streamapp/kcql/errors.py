"""KCQL errors: a syntax error says where (line, column, offset) and shows the spot with a caret;
a projection error is a record error (the connector's error policy applies to it)."""

from __future__ import annotations

from streamapp.data import DataError

__all__ = ["KcqlSyntaxError", "ProjectionError", "caret_excerpt"]

_EXCERPT_WIDTH = 76  # characters of the offending line shown around the error


def caret_excerpt(text: str, position: int, width: int = _EXCERPT_WIDTH) -> str:
    """Two lines: the line holding ``position`` (cut to ``width`` around it) and a caret under it."""
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    if line_end < 0:
        line_end = len(text)
    line = text[line_start:line_end].replace("\t", " ")
    column = position - line_start
    first = max(0, min(column - width // 2, len(line) - width))
    shown = line[first : first + width]
    prefix = "..." if first > 0 else ""
    suffix = "..." if first + width < len(line) else ""
    return f"  {prefix}{shown}{suffix}\n  {' ' * (len(prefix) + column - first)}^"


class KcqlSyntaxError(ValueError):
    """A KCQL statement that does not parse, or asks for something impossible.

    ``position`` is the 0-based character offset in the whole KCQL text; ``line`` and ``column``
    are 1-based. ``str()`` is the reason, the location and a caret excerpt, ready for a log line
    or ``streamapp check-config``.
    """

    def __init__(self, reason: str, text: str, position: int) -> None:
        self.reason = reason
        self.text = text
        self.position = position
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        super().__init__(
            f"KCQL syntax error at line {self.line}, column {self.column} (character {position + 1}): "
            f"{reason}\n{caret_excerpt(text, position)}"
        )


class ProjectionError(DataError):
    """A record's value cannot be projected as its KCQL statement asks (a record error)."""
