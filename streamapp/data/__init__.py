"""The Record and Schema model shared by every converter and connector.

It mirrors Kafka Connect's data model (``org.apache.kafka.connect.data``) so that converters
(String, JSON, ByteArray, and later Avro) and connectors agree on one representation:

* :class:`Schema` is Connect's ``ConnectSchema``: a :class:`Type`, ``optional``, ``default``,
  ``name``, ``version``, ``doc``, ``parameters``, struct ``fields`` and the ``key_schema`` /
  ``value_schema`` of maps and arrays. Schemas are immutable and hashable (the hash is computed
  once, because converters use schemas as cache keys on the hot path).
* :class:`Struct` is Connect's ``Struct``: a schema plus one value per field, in field order.
* Logical types keep Connect's names and underlying types, with these Python values:

  ============  ======================================  ==========  ==============================
  logical type  schema name                             base type   Python value
  ============  ======================================  ==========  ==============================
  Decimal       ``org.apache.kafka.connect.data.Decimal``   BYTES   ``decimal.Decimal`` (parameter
                                                                    ``scale``)
  Date          ``org.apache.kafka.connect.data.Date``      INT32   ``datetime.date`` (days since
                                                                    1970-01-01)
  Time          ``org.apache.kafka.connect.data.Time``      INT32   ``datetime.time`` (ms of day)
  Timestamp     ``org.apache.kafka.connect.data.Timestamp`` INT64   aware UTC ``datetime.datetime``
                                                                    (ms since the epoch)
  ============  ======================================  ==========  ==============================

  The ``*_to_*`` / ``*_from_*`` helpers convert between a logical value and its underlying
  representation exactly like Connect's ``Decimal.fromLogical`` and friends, so the JSON and Avro
  converters share one implementation.
* Python value types per schema type: INT8..INT64 ``int`` (never ``bool``), FLOAT32/FLOAT64
  ``float`` (an ``int`` is accepted), BOOLEAN ``bool``, STRING ``str``, BYTES ``bytes`` (also
  ``bytearray``/``memoryview``), ARRAY ``list`` (or ``tuple``), MAP any ``Mapping``, STRUCT
  :class:`Struct`.
* :class:`Record` is the unit a sink maps and delivers. It is a plain slotted dataclass and does no
  validation, because one is built per Kafka message.

Errors: :class:`RecordError` is the root of every error attributable to a single record (the
connector's error policy applies: retry, skip, dead-letter, stop); :class:`DataError` is Connect's
``DataException``, a value that does not match its schema. Both carry a location inside the value
(``items[3].age``) built while the error unwinds, so the happy path pays nothing for it.
"""

from __future__ import annotations

from .errors import DataError, RecordError
from .logical import (
    EPOCH,
    date_from_days,
    date_to_days,
    decimal_from_bytes,
    decimal_to_bytes,
    format_date,
    format_time,
    format_timestamp,
    rescale_decimal,
    time_from_millis,
    time_to_millis,
    timestamp_from_millis,
    timestamp_to_millis,
)
from .record import Record, SchemaAndValue
from .schema import (
    BOOLEAN_SCHEMA,
    BYTES_SCHEMA,
    DATE_SCHEMA,
    FLOAT32_SCHEMA,
    FLOAT64_SCHEMA,
    INT8_SCHEMA,
    INT16_SCHEMA,
    INT32_SCHEMA,
    INT64_SCHEMA,
    OPTIONAL_BOOLEAN_SCHEMA,
    OPTIONAL_BYTES_SCHEMA,
    OPTIONAL_DATE_SCHEMA,
    OPTIONAL_FLOAT32_SCHEMA,
    OPTIONAL_FLOAT64_SCHEMA,
    OPTIONAL_INT8_SCHEMA,
    OPTIONAL_INT16_SCHEMA,
    OPTIONAL_INT32_SCHEMA,
    OPTIONAL_INT64_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    OPTIONAL_TIME_SCHEMA,
    OPTIONAL_TIMESTAMP_SCHEMA,
    STRING_SCHEMA,
    TIME_SCHEMA,
    TIMESTAMP_SCHEMA,
    Field,
    Schema,
    Struct,
    array_schema,
    decimal_schema,
    map_schema,
    struct_schema,
    validate_value,
)
from .text import brief, describe_value
from .types import DATE_NAME, DECIMAL_NAME, DECIMAL_SCALE, INT_RANGES, LOGICAL_NAMES, TIME_NAME, TIMESTAMP_NAME, Type

__all__ = [
    "Type",
    "Schema",
    "Field",
    "Struct",
    "SchemaAndValue",
    "Record",
    "RecordError",
    "DataError",
    # logical type names and helpers
    "DECIMAL_NAME",
    "DECIMAL_SCALE",
    "DATE_NAME",
    "TIME_NAME",
    "TIMESTAMP_NAME",
    "LOGICAL_NAMES",
    "decimal_schema",
    "struct_schema",
    "array_schema",
    "map_schema",
    "decimal_to_bytes",
    "decimal_from_bytes",
    "rescale_decimal",
    "date_to_days",
    "date_from_days",
    "time_to_millis",
    "time_from_millis",
    "timestamp_to_millis",
    "timestamp_from_millis",
    "format_date",
    "format_time",
    "format_timestamp",
    "validate_value",
    "describe_value",
    "brief",
    "INT_RANGES",
    "EPOCH",
    # primitive and logical schema constants
    "INT8_SCHEMA",
    "INT16_SCHEMA",
    "INT32_SCHEMA",
    "INT64_SCHEMA",
    "FLOAT32_SCHEMA",
    "FLOAT64_SCHEMA",
    "BOOLEAN_SCHEMA",
    "STRING_SCHEMA",
    "BYTES_SCHEMA",
    "OPTIONAL_INT8_SCHEMA",
    "OPTIONAL_INT16_SCHEMA",
    "OPTIONAL_INT32_SCHEMA",
    "OPTIONAL_INT64_SCHEMA",
    "OPTIONAL_FLOAT32_SCHEMA",
    "OPTIONAL_FLOAT64_SCHEMA",
    "OPTIONAL_BOOLEAN_SCHEMA",
    "OPTIONAL_STRING_SCHEMA",
    "OPTIONAL_BYTES_SCHEMA",
    "DATE_SCHEMA",
    "OPTIONAL_DATE_SCHEMA",
    "TIME_SCHEMA",
    "OPTIONAL_TIME_SCHEMA",
    "TIMESTAMP_SCHEMA",
    "OPTIONAL_TIMESTAMP_SCHEMA",
]
