"""Kafka Connect converters by class name: Kafka bytes <-> :class:`~streamapp.data.SchemaAndValue`.

Users keep their ``key.converter`` / ``value.converter`` settings; :func:`make_converter` builds
the matching converter from the class name (full or simple) and its validated options:

* ``org.apache.kafka.connect.storage.StringConverter`` -> :class:`StringConverter`
* ``org.apache.kafka.connect.json.JsonConverter`` -> :class:`JsonConverter`
* ``org.apache.kafka.connect.converters.ByteArrayConverter`` -> :class:`ByteArrayConverter`
* ``io.confluent.connect.avro.AvroConverter`` -> :class:`AvroConverter` (Confluent Schema Registry)

Converters that need I/O (the Avro converter's registry) have async ``prepare_*`` hooks that
callers await before the synchronous call: see :class:`PreparingConverter`.

Every converter raises :class:`ConversionError` (a record error) for input it cannot convert.
"""

from __future__ import annotations

from streamapp.config.converter_options import (
    AVRO_CONVERTER,
    BYTEARRAY_CONVERTER,
    JSON_CONVERTER,
    STRING_CONVERTER,
    AvroConverterOptions,
    ByteArrayConverterOptions,
    ConverterOptions,
    JsonConverterOptions,
    StringConverterOptions,
    resolve_converter_class,
)

from .avro_converter import AvroConverter
from .base import (
    NULL,
    Converter,
    PreparingConverter,
    prepare_from_connect,
    prepare_to_connect,
)
from .bytearray_converter import ByteArrayConverter
from .errors import ConversionError, ConverterUnavailableError
from .json_converter import JsonConverter
from .string_converter import StringConverter

__all__ = [
    "NULL",
    "AvroConverter",
    "ByteArrayConverter",
    "ConversionError",
    "Converter",
    "ConverterUnavailableError",
    "JsonConverter",
    "PreparingConverter",
    "StringConverter",
    "make_converter",
    "prepare_from_connect",
    "prepare_to_connect",
]

_IMPLEMENTATIONS: dict[str, tuple[type, type[ConverterOptions]]] = {
    STRING_CONVERTER: (StringConverter, StringConverterOptions),
    JSON_CONVERTER: (JsonConverter, JsonConverterOptions),
    BYTEARRAY_CONVERTER: (ByteArrayConverter, ByteArrayConverterOptions),
    AVRO_CONVERTER: (AvroConverter, AvroConverterOptions),
}


def make_converter(class_name: str, options: ConverterOptions | None = None, *, is_key: bool) -> Converter:
    """The converter for a Connect converter class name (full or simple) and its options.

    ``options`` is the converter's options model from
    :mod:`streamapp.config.converter_options` (None: all defaults). Raises ``ValueError`` for an
    unknown class (listing the supported ones), ``TypeError`` for options of another converter.
    The Avro converter has a required option (``schema.registry.url``): it needs ``options``.
    """
    full_name = resolve_converter_class(class_name)
    implementation, options_model = _IMPLEMENTATIONS[full_name]
    if options is None and full_name == AVRO_CONVERTER:
        raise TypeError(f"{AVRO_CONVERTER} needs its options (schema.registry.url at least)")
    if options is None:
        options = options_model()
    elif not isinstance(options, options_model):
        raise TypeError(f"{full_name} takes {options_model.__name__}, got {type(options).__name__}")
    return implementation(options, is_key=is_key)  # type: ignore[no-any-return]
