"""The converter protocol: Kafka bytes <-> Connect :class:`~streamapp.records.SchemaAndValue`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from streamapp.records import Schema, SchemaAndValue

__all__ = ["Converter", "NULL"]

NULL = SchemaAndValue(None, None)
"""What converters return for a null message (a tombstone) when they have no schema for it."""


@runtime_checkable
class Converter(Protocol):
    """Connect's ``Converter``: ``toConnectData`` / ``fromConnectData`` under Python names.

    Implementations raise :class:`~streamapp.converters.errors.ConversionError` for any input
    they cannot convert. ``class_name`` is the Connect class the converter stands in for.
    """

    class_name: str
    is_key: bool

    def to_connect(self, topic: str, data: bytes | None) -> SchemaAndValue:
        """Kafka bytes (None for a null message) -> schema and value."""
        ...

    def from_connect(self, topic: str, schema: Schema | None, value: Any) -> bytes | None:
        """Schema and value -> Kafka bytes (None for a null message)."""
        ...
