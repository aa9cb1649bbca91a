"""The converter protocol: Kafka bytes <-> Connect :class:`~streamapp.data.SchemaAndValue`."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from streamapp.data import Schema, SchemaAndValue

__all__ = ["NULL", "Converter", "PreparingConverter", "prepare_from_connect", "prepare_to_connect"]

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


@runtime_checkable
class PreparingConverter(Protocol):
    """Optional async hooks of a converter whose conversions need I/O (the Avro converter's registry).

    The protocol's conversions stay synchronous; a converter that must fetch something first
    (a writer schema by id, a schema id for a subject) does it here, and callers await the hook
    right before the synchronous call with the same arguments. A hook raises
    :class:`~streamapp.converters.errors.ConversionError` for a record error, and an error with
    ``retriable = True`` when the record must wait (e.g. the registry is unreachable).
    """

    async def prepare_to_connect(self, topic: str, data: bytes | None) -> None: ...

    async def prepare_from_connect(self, topic: str, schema: Schema | None) -> None: ...


async def prepare_to_connect(converter: Any, topic: str, data: bytes | None) -> None:
    """Await ``converter.prepare_to_connect`` if it has one."""
    hook = getattr(converter, "prepare_to_connect", None)
    if hook is not None:
        await hook(topic, data)


async def prepare_from_connect(converter: Any, topic: str, schema: Schema | None) -> None:
    """Await ``converter.prepare_from_connect`` if it has one."""
    hook = getattr(converter, "prepare_from_connect", None)
    if hook is not None:
        await hook(topic, schema)
