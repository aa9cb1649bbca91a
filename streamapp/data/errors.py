"""Errors attributable to one record: RecordError, and DataError (Connect's DataException)."""

from __future__ import annotations

from typing import Any

from streamapp.errors import StreamAppError

from .text import short_repr

# --------------------------------------------------------------------------------------------
# Errors


class RecordError(StreamAppError):
    """An error attributable to one record: the connector's error policy decides what happens.

    ``location`` is where in the value the problem is (``items[3].age``), empty for the whole
    value; ``reason`` is the message without it. ``str()`` gives ``"<location>: <reason>"``
    preceded by any context added with :meth:`in_context` (e.g. which converter).
    """

    def __init__(self, reason: str, *, location: str = "", context: str = "") -> None:
        self.reason = reason
        self._segments: list[str] = [location] if location else []
        self.context = context
        super().__init__(self._render())

    @property
    def location(self) -> str:
        return "".join(reversed(self._segments)).lstrip(".")

    def at(self, segment: str | int) -> RecordError:
        """Prefix the location with a struct field (``str``) or an array index (``int``); returns self."""
        self._segments.append(f"[{segment}]" if isinstance(segment, int) else f".{segment}")
        self.args = (self._render(),)
        return self

    def at_key(self, key: Any) -> RecordError:
        """Prefix the location with a map key; returns self."""
        self._segments.append(f"[{short_repr(key, 40)}]")
        self.args = (self._render(),)
        return self

    def in_context(self, context: str) -> RecordError:
        """Set the leading context (``"JsonConverter (value)"``); returns self."""
        self.context = context
        self.args = (self._render(),)
        return self

    def _render(self) -> str:
        where = self.location
        text = f"{where}: {self.reason}" if where else self.reason
        return f"{self.context}: {text}" if self.context else text

    def __str__(self) -> str:
        return self.args[0] if self.args else self.reason


class DataError(RecordError, ValueError):
    """A value does not match its schema, or a schema is inconsistent (Connect's ``DataException``)."""
