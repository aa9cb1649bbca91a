"""Confluent's ``AvroData`` for Python: Avro binary <-> Connect data under one set of options.

:class:`AvroData` is what :class:`~streamapp.converters.avro_converter.AvroConverter` uses once
the registry told it the schema: :meth:`AvroData.reader` prepares a writer schema (Connect
schema, fastavro reader, adapter) and :meth:`AvroData.read` decodes a value with it;
:meth:`AvroData.writer` prepares a Connect schema (the Avro schema to register, fastavro writer,
encoder) and :meth:`AvroData.write` encodes a value. The mapping itself is in
:mod:`.avro_to_connect` and :mod:`.avro_from_connect`.

Decoding calls the function fastavro's ``schemaless_reader`` ends in (``_read_data``) when it is
there and behaves the same, with the schema parsed once: ``schemaless_reader`` parses the
(already parsed) schema again and builds its option dicts on every call, about a tenth of the
decoding time of a small record.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro import schemaless_reader, schemaless_writer

from streamapp.data import DataError, Schema, SchemaAndValue

from .avro_from_connect import connect_to_avro
from .avro_schema import AvroDataOptions, AvroSchemaError
from .avro_to_connect import READ_OPTIONS, UnionCounter, avro_to_connect

__all__ = ["AvroData", "Reader", "Writer", "read_data"]

_NEW = object.__new__
_PAIR = tuple.__new__


def _plain_read(fo: Any, schema: Any, named: Any, reader_schema: Any, options: Any) -> Any:
    return schemaless_reader(fo, schema, None, return_named_type=options["return_named_type"])


def _pick_reader() -> Any:
    """fastavro's ``_read_data`` if it is there and decodes a probe exactly like ``schemaless_reader``."""
    try:
        from fastavro._read import _read_data
    except ImportError:  # pragma: no cover - a pure-Python fastavro build
        return _plain_read
    probe = {
        "type": "record",
        "name": "Probe",
        "fields": [
            {"name": "s", "type": "string"},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A"]}},
            {"name": "o", "type": ["null", "long"]},
            {"name": "u", "type": ["null", "string", "E"]},
        ],
    }
    value = {"s": "x", "e": "A", "o": 5, "u": ("E", "A")}
    try:
        named: dict[str, dict] = {"writer": {}, "reader": {}}
        parsed = fastavro.parse_schema(probe, named["writer"])
        buffer = io.BytesIO()
        schemaless_writer(buffer, parsed, value)
        data = buffer.getvalue()
        fast = _read_data(io.BytesIO(data), parsed, named, None, dict(READ_OPTIONS))
        plain = schemaless_reader(io.BytesIO(data), parsed, None, return_named_type=True)
        if fast == value == plain:
            return _read_data
    except Exception:  # noqa: BLE001 - any surprise: use the public function
        return _plain_read
    return _plain_read  # pragma: no cover


read_data = _pick_reader()


@dataclass(frozen=True, slots=True)
class Reader:
    """A writer schema ready for decoding."""

    parsed: Any  # fastavro's parsed reader schema
    named: Any  # fastavro's named types of it
    schema: Schema | None  # the Connect schema (None: schemaless)
    adapt: Any  # fastavro value -> Connect value, or None
    plain_schema: Schema | None  # set when the value is a record needing nothing but its Struct


@dataclass(frozen=True, slots=True)
class Writer:
    """A Connect schema ready for encoding."""

    avro: Any  # the Avro schema to register
    parsed: Any  # fastavro's parsed writer schema (no logical types)
    encode: Any  # Connect value -> fastavro datum


class AvroData:
    """The Avro <-> Connect mapping with one converter's options (Confluent's ``AvroData``)."""

    def __init__(self, options: AvroDataOptions | None = None) -> None:
        self.options = options or AvroDataOptions()
        self.unions = UnionCounter()

    def reader(self, avro: Any, version: int | None = None) -> Reader:
        """Prepare a writer schema (parsed JSON); ``version`` is the registry's. Raises AvroSchemaError."""
        mapping = avro_to_connect(avro, version=version, options=self.options, unions=self.unions)
        named: dict[str, dict] = {"writer": {}, "reader": {}}
        try:
            parsed = fastavro.parse_schema(mapping.reader_schema, named["writer"])
        except Exception as exc:  # noqa: BLE001 - fastavro's SchemaParseException and friends
            raise AvroSchemaError(f"not a valid Avro schema: {exc}") from None
        return Reader(parsed, named, mapping.schema, mapping.adapt, getattr(mapping.adapt, "plain_schema", None))

    def read(self, reader: Reader, buffer: io.BytesIO) -> SchemaAndValue:
        """Decode one value at the buffer's position (EOFError, ValueError... for corrupt bytes)."""
        value = read_data(buffer, reader.parsed, reader.named, None, READ_OPTIONS)
        if value is not None and reader.adapt is not None:
            value = reader.adapt(value)
        return _PAIR(
            SchemaAndValue, (reader.schema if value is not None else None, value)
        )  # the NamedTuple without its Python-level __new__

    def to_connect(self, avro: Any, payload: bytes, version: int | None = None) -> SchemaAndValue:
        """Decode Avro binary written with ``avro`` (no Confluent header); all bytes must be used."""
        reader = self.reader(avro, version)
        buffer = io.BytesIO(payload)
        result = self.read(reader, buffer)
        if buffer.tell() != len(payload):
            raise DataError(f"{len(payload) - buffer.tell()} bytes left over after the Avro value")
        return result

    def writer(self, schema: Schema | None) -> Writer:
        """Prepare a Connect schema (None: schemaless) for encoding. Raises AvroSchemaError."""
        mapping = connect_to_avro(schema, self.options)
        try:
            parsed = fastavro.parse_schema(mapping.writer_schema)
        except Exception as exc:  # noqa: BLE001 - fastavro's SchemaParseException and friends
            raise AvroSchemaError(
                f"cannot write {schema.label() if schema else 'schemaless data'} as Avro: {exc}"
            ) from None
        return Writer(mapping.avro, parsed, mapping.encode)

    @staticmethod
    def write(writer: Writer, value: Any, buffer: io.BytesIO) -> None:
        """Encode ``value`` (not None) into ``buffer``; DataError when it does not fit the schema."""
        schemaless_writer(buffer, writer.parsed, writer.encode(value))

    def from_connect(self, schema: Schema | None, value: Any) -> tuple[Any, bytes | None]:
        """(Avro schema, Avro binary) for a Connect value; no bytes for a null value."""
        writer = self.writer(schema)
        if value is None:
            if schema is not None and not schema.optional and schema.default is None:
                raise DataError(f"null value for required {schema.label()}")
            return writer.avro, None
        buffer = io.BytesIO()
        self.write(writer, value, buffer)
        return writer.avro, buffer.getvalue()
