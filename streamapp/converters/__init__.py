"""Kafka Connect converters by class name: Kafka bytes <-> :class:`~streamapp.records.SchemaAndValue`.

Users keep their ``key.converter`` / ``value.converter`` settings; :func:`make_converter` builds
the matching converter from the class name (full or simple) and its validated options:

* ``org.apache.kafka.connect.storage.StringConverter`` -> :class:`StringConverter`
* ``org.apache.kafka.connect.json.JsonConverter`` -> :class:`JsonConverter`
* ``org.apache.kafka.connect.converters.ByteArrayConverter`` -> :class:`ByteArrayConverter`
* ``io.confluent.connect.avro.AvroConverter`` -> :class:`ConverterUnavailableError` for now

Every converter raises :class:`ConversionError` (a record error) for input it cannot convert.
"""

from __future__ import annotations

from streamapp.config.converter_options import (
    AVRO_CONVERTER,
    BYTEARRAY_CONVERTER,
    JSON_CONVERTER,
    STRING_CONVERTER,
    ByteArrayConverterOptions,
    ConverterOptions,
    JsonConverterOptions,
    StringConverterOptions,
    resolve_converter_class,
)

from .base import NULL, Converter
from .bytearray_converter import ByteArrayConverter
from .errors import ConversionError, ConverterUnavailableError
from .json_converter import JsonConverter
from .string_converter import StringConverter

__all__ = [
    "Converter",
    "ConversionError",
    "ConverterUnavailableError",
    "StringConverter",
    "JsonConverter",
    "ByteArrayConverter",
    "NULL",
    "make_converter",
]

_IMPLEMENTATIONS: dict[str, tuple[type, type[ConverterOptions]]] = {
    STRING_CONVERTER: (StringConverter, StringConverterOptions),
    JSON_CONVERTER: (JsonConverter, JsonConverterOptions),
    BYTEARRAY_CONVERTER: (ByteArrayConverter, ByteArrayConverterOptions),
}


def make_converter(class_name: str, options: ConverterOptions | None = None, *, is_key: bool) -> Converter:
    """The converter for a Connect converter class name (full or simple) and its options.

    ``options`` is the converter's options model from
    :mod:`streamapp.config.converter_options` (None: all defaults). Raises ``ValueError`` for an
    unknown class (listing the supported ones), :class:`ConverterUnavailableError` for a known
    converter not implemented yet (Avro), ``TypeError`` for options of another converter.
    """
    full_name = resolve_converter_class(class_name)
    if full_name == AVRO_CONVERTER:
        raise ConverterUnavailableError(
            f"{AVRO_CONVERTER} is not available yet in streamapp; use "
            f"{JSON_CONVERTER}, {STRING_CONVERTER} or {BYTEARRAY_CONVERTER} for the "
            f"{'key' if is_key else 'value'} converter"
        )
    implementation, options_model = _IMPLEMENTATIONS[full_name]
    if options is None:
        options = options_model()
    elif not isinstance(options, options_model):
        raise TypeError(f"{full_name} takes {options_model.__name__}, got {type(options).__name__}")
    return implementation(options, is_key=is_key)  # type: ignore[no-any-return]
