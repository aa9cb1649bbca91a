"""Typed connector configs: the keys every Kafka Connect connector understands.

Each connector type subclasses :class:`SinkConnectorConfig` or :class:`SourceConnectorConfig` and
adds its own keys. Fields are declared once with the Connect key as alias, the type, the default,
the allowed range or values, and a description; pydantic does the checking (our ConfigDef).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from .converter_options import JSON_CONVERTER, resolve_converter_class
from .types import ConnectList, KeyedError, lower

__all__ = ["ConnectorConfig", "SinkConnectorConfig", "SourceConnectorConfig", "ConverterClass"]


def _converter_class(value: Any) -> Any:
    return resolve_converter_class(value) if isinstance(value, str) else value


def _valid_regex(value: str | None) -> str | None:
    if value:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


ConverterClass = Annotated[str, BeforeValidator(_converter_class)]


class ConnectorConfig(BaseModel):
    """Keys common to every connector (Connect's ``ConnectorConfig``)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True, str_strip_whitespace=True)

    name: str = Field(..., min_length=1, description="Unique name of the connector.")
    connector_class: str = Field(..., alias="connector.class", description="Connector implementation class or alias.")
    tasks_max: int = Field(
        1,
        alias="tasks.max",
        ge=1,
        description="Accepted for compatibility; parallelism comes from the number of workers and partitions.",
    )
    key_converter: ConverterClass = Field(
        JSON_CONVERTER, alias="key.converter", description="Converter for record keys."
    )
    value_converter: ConverterClass = Field(
        JSON_CONVERTER, alias="value.converter", description="Converter for record values."
    )
    header_converter: str | None = Field(
        None, alias="header.converter", description="Accepted; headers are carried as raw bytes."
    )
    transforms: ConnectList = Field([], description="Single Message Transforms (not supported).")
    predicates: ConnectList = Field([], description="SMT predicates (not supported).")
    config_action_reload: Annotated[Literal["restart", "none"], BeforeValidator(lower)] = Field(
        "restart", alias="config.action.reload", description="Accepted; configs are reloaded by a rolling restart."
    )
    errors_tolerance: Annotated[Literal["none", "all"], BeforeValidator(lower)] = Field(
        "none",
        alias="errors.tolerance",
        description="none: a record error stops the connector (record unacked); all: the record is skipped or dead-lettered.",
    )
    errors_retry_timeout: int = Field(0, alias="errors.retry.timeout", ge=-1, description="ms; -1 retries forever.")
    errors_retry_delay_max_ms: int = Field(60000, alias="errors.retry.delay.max.ms", ge=0)
    errors_log_enable: bool = Field(False, alias="errors.log.enable")
    errors_log_include_messages: bool = Field(False, alias="errors.log.include.messages")

    @model_validator(mode="after")
    def _no_transforms(self) -> ConnectorConfig:
        if self.transforms:
            raise KeyedError(
                "transforms",
                "Single Message Transforms are not supported; remove 'transforms' (and its transforms.* keys) "
                "and express routing in the connector's own mapping (destination pattern or KCQL)",
            )
        if self.predicates:
            raise KeyedError("predicates", "SMT predicates are not supported; remove 'predicates'")
        return self

    @classmethod
    def secret_keys(cls) -> set[str]:
        """Connect keys whose values are passwords (never printed)."""
        return {f.alias or n for n, f in cls.model_fields.items() if f.annotation is SecretStr}

    @classmethod
    def known_keys(cls) -> set[str]:
        return {f.alias or n for n, f in cls.model_fields.items()}


class SinkConnectorConfig(ConnectorConfig):
    """Keys of Connect sink connectors (``SinkConnectorConfig``)."""

    topics: ConnectList = Field([], description="Kafka topics to consume, comma-separated.")
    topics_regex: Annotated[str | None, AfterValidator(_valid_regex)] = Field(
        None, alias="topics.regex", description="Regular expression of Kafka topics to consume."
    )
    errors_deadletterqueue_topic_name: str = Field(
        "", alias="errors.deadletterqueue.topic.name", description="Dead-letter topic for failed records (empty: none)."
    )
    errors_deadletterqueue_topic_replication_factor: int | None = Field(
        None,
        alias="errors.deadletterqueue.topic.replication.factor",
        ge=-1,
        description="Replication factor when the dead-letter topic is created (default: the worker's topic replication factor).",
    )
    errors_deadletterqueue_context_headers_enable: bool = Field(
        True,
        alias="errors.deadletterqueue.context.headers.enable",
        description="Add __connect.errors.* headers to dead-lettered records (Connect's default is false; we add them by default).",
    )

    producer_override_max_request_size: int | None = Field(
        None,
        alias="producer.override.max.request.size",
        ge=1024,
        description="Largest dead letter the connector's dead-letter producer sends, in bytes (Kafka's default "
        "1048576); a dead-letter topic the connector creates gets the same max.message.bytes.",
    )

    @model_validator(mode="after")
    def _topics_xor_regex(self) -> SinkConnectorConfig:
        if self.topics and self.topics_regex:
            raise KeyedError("topics", "set either 'topics' or 'topics.regex', not both")
        if not self.topics and not self.topics_regex:
            raise KeyedError("topics", "a sink needs 'topics' (comma-separated names) or 'topics.regex'")
        dlq = self.errors_deadletterqueue_topic_name
        if dlq and (dlq in self.topics or (self.topics_regex and re.fullmatch(self.topics_regex, dlq))):
            raise KeyedError(
                "errors.deadletterqueue.topic.name",
                f"the dead-letter topic '{dlq}' is also a topic this sink consumes; pick another name",
            )
        return self


class SourceConnectorConfig(ConnectorConfig):
    """Keys of Connect source connectors."""

    topic_creation_default_partitions: int = Field(
        -1,
        alias="topic.creation.default.partitions",
        ge=-1,
        description="Partitions of destination topics the connector creates (-1: the worker's topic partitions).",
    )
    topic_creation_default_replication_factor: int = Field(
        -1,
        alias="topic.creation.default.replication.factor",
        ge=-1,
        description="Replication factor of created destination topics (-1: the worker's topic replication factor).",
    )
