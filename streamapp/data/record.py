"""What converters produce and sinks deliver."""

from __future__ import annotations

from typing import Any, NamedTuple

from .schema import Schema

# --------------------------------------------------------------------------------------------
# Values and records


# Both are NamedTuples, immutable like frozen dataclasses, because one of each is built per record
# and per converted key and value: a frozen dataclass sets each field through object.__setattr__
# (~0.2 us a field), a NamedTuple is one tuple construction.


class SchemaAndValue(NamedTuple):
    """What a converter produces: a schema (None when the data carries none) and the value."""

    schema: Schema | None
    value: Any


class Record(NamedTuple):
    """One Kafka message after conversion: what a sink maps and delivers.

    ``timestamp`` is in epoch milliseconds; ``raw_key``/``raw_value`` keep the bytes as read from
    Kafka (for dead-letter topics and pass-through). No validation: one is built per message.
    """

    topic: str
    partition: int
    offset: int
    timestamp: int | None
    key: Any
    key_schema: Schema | None
    value: Any
    value_schema: Schema | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    raw_key: bytes | None = None
    raw_value: bytes | None = None

    def __repr__(self) -> str:  # without the raw bytes, which can be megabytes
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields[:9])
        return f"Record({shown})"

    def coordinates(self) -> str:
        """``topic 'price' partition 0 offset 42``, for messages."""
        return f"topic '{self.topic}' partition {self.partition} offset {self.offset}"
