"""The converters a connector may name, and the options each one takes.

Connect passes ``key.converter.<option>`` / ``value.converter.<option>`` to the converter with
the prefix stripped. These models validate those options like the converters' own ConfigDefs
(names, types, defaults, allowed values); the converters themselves live in
``streamapp.converters``.
"""

from __future__ import annotations

import codecs
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .types import ConnectList, KeyedError, Password, upper

__all__ = [
    "CONVERTERS",
    "STRING_CONVERTER",
    "JSON_CONVERTER",
    "BYTEARRAY_CONVERTER",
    "AVRO_CONVERTER",
    "ConverterOptions",
    "converter_options_model",
    "resolve_converter_class",
]

STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
BYTEARRAY_CONVERTER = "org.apache.kafka.connect.converters.ByteArrayConverter"
AVRO_CONVERTER = "io.confluent.connect.avro.AvroConverter"


class ConverterOptions(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)


class StringConverterOptions(ConverterOptions):
    encoding: str = Field("UTF-8", alias="converter.encoding", description="Character set of the string bytes.")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown character set '{value}' (e.g. UTF-8, UTF-16, ISO-8859-1)") from None
        return value


class JsonConverterOptions(ConverterOptions):
    schemas_enable: bool = Field(
        True, alias="schemas.enable", description='Values are {"schema": ..., "payload": ...} envelopes.'
    )
    schemas_cache_size: int = Field(1000, alias="schemas.cache.size", ge=0)
    decimal_format: Annotated[Literal["BASE64", "NUMERIC"], BeforeValidator(upper)] = Field(
        "BASE64", alias="decimal.format"
    )
    replace_null_with_default: bool = Field(True, alias="replace.null.with.default")


class ByteArrayConverterOptions(ConverterOptions):
    pass


_SUBJECT_STRATEGIES = (
    "io.confluent.kafka.serializers.subject.TopicNameStrategy",
    "io.confluent.kafka.serializers.subject.RecordNameStrategy",
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
)
SubjectStrategy = Literal[_SUBJECT_STRATEGIES]  # type: ignore[valid-type]


StoreType = Annotated[Literal["PEM", "JKS", "PKCS12"], BeforeValidator(upper)]


class AvroConverterOptions(ConverterOptions):
    """Confluent AvroConverter options. TLS material must be PEM: Python cannot read Java keystores."""

    schema_registry_url: ConnectList = Field(
        ..., alias="schema.registry.url", min_length=1, description="Schema Registry URL(s), comma-separated."
    )
    basic_auth_credentials_source: Annotated[Literal["URL", "USER_INFO", "SASL_INHERIT"], BeforeValidator(upper)] = (
        Field("URL", alias="basic.auth.credentials.source")
    )
    basic_auth_user_info: Password = Field(Password(""), alias="basic.auth.user.info")
    auto_register_schemas: bool = Field(True, alias="auto.register.schemas")
    use_latest_version: bool = Field(False, alias="use.latest.version")
    key_subject_name_strategy: SubjectStrategy = Field(_SUBJECT_STRATEGIES[0], alias="key.subject.name.strategy")
    value_subject_name_strategy: SubjectStrategy = Field(_SUBJECT_STRATEGIES[0], alias="value.subject.name.strategy")
    ssl_truststore_location: str = Field("", alias="schema.registry.ssl.truststore.location")
    ssl_truststore_password: Password = Field(Password(""), alias="schema.registry.ssl.truststore.password")
    ssl_truststore_type: StoreType = Field("JKS", alias="schema.registry.ssl.truststore.type")
    ssl_keystore_location: str = Field("", alias="schema.registry.ssl.keystore.location")
    ssl_keystore_password: Password = Field(Password(""), alias="schema.registry.ssl.keystore.password")
    ssl_keystore_type: StoreType = Field("JKS", alias="schema.registry.ssl.keystore.type")
    ssl_key_password: Password = Field(Password(""), alias="schema.registry.ssl.key.password")
    ssl_endpoint_identification_algorithm: str = Field(
        "https", alias="schema.registry.ssl.endpoint.identification.algorithm"
    )
    # Confluent's AvroDataConfig: how Avro and Connect schemas map (streamapp.converters.avro_schema)
    enhanced_avro_schema_support: bool = Field(False, alias="enhanced.avro.schema.support")
    connect_meta_data: bool = Field(True, alias="connect.meta.data")
    generalized_sum_type_support: bool = Field(False, alias="generalized.sum.type.support")
    scrub_invalid_names: bool = Field(False, alias="scrub.invalid.names")
    allow_optional_map_keys: bool = Field(False, alias="allow.optional.map.keys")
    flatten_singleton_unions: bool = Field(True, alias="flatten.singleton.unions")
    ignore_default_for_nullables: bool = Field(False, alias="ignore.default.for.nullables")
    discard_type_doc_default: bool = Field(False, alias="discard.type.doc.default")
    schemas_cache_config: int = Field(1000, alias="schemas.cache.config", ge=0)

    @model_validator(mode="after")
    def _usable(self) -> AvroConverterOptions:
        if self.basic_auth_credentials_source == "SASL_INHERIT":
            raise KeyedError(
                "basic.auth.credentials.source",
                "SASL_INHERIT is not supported; use USER_INFO with basic.auth.user.info=<user>:<password>",
            )
        if (
            self.basic_auth_credentials_source == "USER_INFO"
            and ":" not in self.basic_auth_user_info.get_secret_value()
        ):
            raise KeyedError("basic.auth.user.info", "USER_INFO needs basic.auth.user.info as <user>:<password>")
        for which, location, kind in (
            ("truststore", self.ssl_truststore_location, self.ssl_truststore_type),
            ("keystore", self.ssl_keystore_location, self.ssl_keystore_type),
        ):
            if location and kind != "PEM":
                raise KeyedError(
                    f"schema.registry.ssl.{which}.type",
                    f"{kind} {which}s cannot be read here; give a PEM file and set "
                    f"schema.registry.ssl.{which}.type=PEM (e.g. openssl pkcs12 -in store.p12 -out store.pem)",
                )
        return self


CONVERTERS: dict[str, type[ConverterOptions]] = {
    STRING_CONVERTER: StringConverterOptions,
    JSON_CONVERTER: JsonConverterOptions,
    BYTEARRAY_CONVERTER: ByteArrayConverterOptions,
    AVRO_CONVERTER: AvroConverterOptions,
}

_BY_SIMPLE_NAME = {name.rsplit(".", 1)[1]: name for name in CONVERTERS}


def resolve_converter_class(name: str) -> str:
    """Full class name for a converter given by full or simple name; ``ValueError`` lists the allowed ones."""
    name = name.strip()
    if name in CONVERTERS:
        return name
    if name in _BY_SIMPLE_NAME:
        return _BY_SIMPLE_NAME[name]
    raise ValueError(f"unknown converter '{name}'; supported: {', '.join(CONVERTERS)}")


def converter_options_model(class_name: str) -> type[ConverterOptions]:
    return CONVERTERS[class_name]
