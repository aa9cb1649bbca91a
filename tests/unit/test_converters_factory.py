"""make_converter: Connect class names (full or simple) and options -> converters."""

from __future__ import annotations

import pytest

from streamapp.config.converter_options import (
    AvroConverterOptions,
    ByteArrayConverterOptions,
    JsonConverterOptions,
    StringConverterOptions,
)
from streamapp.converters import (
    ByteArrayConverter,
    ConversionError,
    Converter,
    JsonConverter,
    StringConverter,
    make_converter,
)
from streamapp.errors import StreamAppError


@pytest.mark.parametrize(
    "name, options, kind",
    [
        ("org.apache.kafka.connect.storage.StringConverter", StringConverterOptions(), StringConverter),
        ("StringConverter", None, StringConverter),
        ("org.apache.kafka.connect.json.JsonConverter", JsonConverterOptions(), JsonConverter),
        ("JsonConverter", None, JsonConverter),
        ("org.apache.kafka.connect.converters.ByteArrayConverter", ByteArrayConverterOptions(), ByteArrayConverter),
        (" ByteArrayConverter ", None, ByteArrayConverter),
    ],
)
@pytest.mark.parametrize("is_key", [True, False])
def test_make_converter_by_class_name(name, options, kind, is_key):
    converter = make_converter(name, options, is_key=is_key)
    assert isinstance(converter, kind) and isinstance(converter, Converter)
    assert converter.is_key is is_key
    assert converter.class_name.endswith(kind.__name__)


def test_options_reach_the_converter():
    json_converter = make_converter(
        "JsonConverter", JsonConverterOptions.model_validate({"schemas.enable": "false"}), is_key=False
    )
    assert json_converter.to_connect("t", b'{"a":1}').value == {"a": 1}
    latin = make_converter(
        "StringConverter", StringConverterOptions.model_validate({"converter.encoding": "ISO-8859-1"}), is_key=True
    )
    assert latin.to_connect("t", b"caf\xe9").value == "café"


def test_avro_converter_is_built_from_its_options():
    options = AvroConverterOptions.model_validate({"schema.registry.url": "http://registry:8081"})
    converter = make_converter("io.confluent.connect.avro.AvroConverter", options, is_key=False)
    assert converter.class_name == "io.confluent.connect.avro.AvroConverter" and not converter.is_key
    assert converter.client.urls == ["http://registry:8081"]
    with pytest.raises(TypeError, match="schema.registry.url"):
        make_converter("AvroConverter", None, is_key=True)


def test_unknown_converter_lists_the_supported_ones():
    with pytest.raises(ValueError, match=r"unknown converter 'com.example.Mine'; supported: .*JsonConverter"):
        make_converter("com.example.Mine", None, is_key=False)


def test_options_of_another_converter_are_refused():
    with pytest.raises(TypeError, match="JsonConverter takes JsonConverterOptions, got StringConverterOptions"):
        make_converter("JsonConverter", StringConverterOptions(), is_key=False)


def test_conversion_error_is_a_record_error_rooted_in_streamapp_error():
    assert issubclass(ConversionError, StreamAppError)
    assert ConversionError.retriable is False
