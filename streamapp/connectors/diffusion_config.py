"""Config keys of the Diffusion sink and source (the seed's keys plus Connect's).

Keys, defaults and semantics follow the Java connector (``DiffusionConfig.java``); unlike it,
values are checked: the URL must be ws:// or wss://, the poll settings must be positive.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, field_validator

from streamapp.config.types import ConnectList, lower

from streamapp.config.model import SinkConnectorConfig, SourceConnectorConfig
from streamapp.config.types import Password

__all__ = ["DiffusionSinkConfig", "DiffusionSourceConfig", "SINK_CLASS", "SOURCE_CLASS"]

SINK_CLASS = "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector"
SOURCE_CLASS = "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector"


def _ws_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"'{value}' is not a Diffusion URL; expected ws://host:port or wss://host[:port]")
    return value


DiffusionUrl = Annotated[str, AfterValidator(_ws_url)]


# Topic specification properties the SDK accepts (diffusion TopicSpecification fields).
TOPIC_PROPERTIES = (
    "PUBLISH_VALUES_ONLY",
    "VALIDATE_VALUES",
    "TIDY_ON_UNSUBSCRIBE",
    "SCHEMA",
    "DONT_RETAIN_VALUE",
    "PERSISTENT",
    "REMOVAL",
    "CONFLATION",
    "OWNER",
    "COMPRESSION",
    "PRIORITY",
)


def _topic_properties(value: list[str]) -> list[str]:
    for item in value:
        name, sep, _ = item.partition("=")
        if not sep or name.strip().upper() not in TOPIC_PROPERTIES:
            raise ValueError(f"'{item}' is not NAME=VALUE with NAME one of {', '.join(TOPIC_PROPERTIES)}")
    return value


class DiffusionSinkConfig(SinkConnectorConfig):
    diffusion_url: DiffusionUrl = Field(
        ..., alias="diffusion.url", description="Diffusion server URL (ws:// or wss://)."
    )
    diffusion_username: str = Field(..., alias="diffusion.username", description="Principal to authenticate as.")
    diffusion_password: Password = Field(..., alias="diffusion.password", description="Password of the principal.")
    diffusion_destination: str = Field(
        ...,
        alias="diffusion.destination",
        min_length=1,
        description="Diffusion topic path pattern; tokens ${topic}, ${key}, ${key.version}, ${value.version}, "
        "${partition}, ${offset}.",
    )
    diffusion_tombstone_policy: Annotated[Literal["null", "remove"], BeforeValidator(lower)] = Field(
        "null",
        alias="diffusion.tombstone.policy",
        description="A record with a null value publishes JSON null (null, as the Java connector) or removes the topic (remove).",
    )
    diffusion_topic_type: Annotated[Literal["json", "string", "int64", "double", "binary"], BeforeValidator(lower)] = (
        Field("json", alias="diffusion.topic.type", description="Type of the Diffusion topics created and updated.")
    )
    diffusion_topic_properties: Annotated[ConnectList, AfterValidator(_topic_properties)] = Field(
        [],
        alias="diffusion.topic.properties",
        description="Properties of created topics, comma-separated NAME=VALUE (e.g. PERSISTENT=false,DONT_RETAIN_VALUE=true).",
    )
    diffusion_max_in_flight: int = Field(
        100, alias="diffusion.max.in.flight", ge=1, le=10000, description="Updates awaiting confirmation at once."
    )
    diffusion_request_timeout_ms: int = Field(
        10000,
        alias="diffusion.request.timeout.ms",
        ge=100,
        description="ms to wait for Diffusion to confirm one update.",
    )
    diffusion_reconnect_backoff_max_ms: int = Field(
        10000,
        alias="diffusion.reconnect.backoff.max.ms",
        ge=100,
        description="Longest wait between reconnection attempts.",
    )

    @field_validator("diffusion_destination")
    @classmethod
    def _destination_tokens(cls, value: str) -> str:
        from .destination import DestinationPattern

        DestinationPattern.parse(value)  # unknown tokens are a config error at startup
        return value

    def topic_properties(self) -> dict[str, str]:
        return {
            k.strip().upper(): v.strip()
            for k, v in (item.partition("=")[::2] for item in self.diffusion_topic_properties)
        }


class DiffusionSourceConfig(SourceConnectorConfig):
    diffusion_url: DiffusionUrl = Field(
        ..., alias="diffusion.url", description="Diffusion server URL (ws:// or wss://)."
    )
    diffusion_username: str = Field(..., alias="diffusion.username", description="Principal to authenticate as.")
    diffusion_password: Password = Field(..., alias="diffusion.password", description="Password of the principal.")
    diffusion_selector: str = Field(
        ..., alias="diffusion.selector", min_length=1, description="Topic selector of the Diffusion topics to read."
    )
    kafka_topic: str = Field(
        ..., alias="kafka.topic", min_length=1, description="Kafka topic pattern; ${topic} is the Diffusion path."
    )
    diffusion_poll_interval: int = Field(
        1000, alias="diffusion.poll.interval", ge=1, description="ms to wait when no Diffusion updates are queued."
    )
    diffusion_poll_size: int = Field(
        128, alias="diffusion.poll.size", ge=1, description="Maximum records per batch sent to Kafka."
    )
    diffusion_removal_tombstone: bool = Field(
        False,
        alias="diffusion.removal.tombstone",
        description="A removed Diffusion topic produces a tombstone (null value) for its path.",
    )
    diffusion_queue_size: int = Field(
        10000,
        alias="diffusion.queue.size",
        ge=1,
        description="Updates queued between Diffusion and Kafka; beyond it, the latest value per topic replaces "
        "its queued one (conflation, counted).",
    )
    diffusion_reconnect_backoff_max_ms: int = Field(
        10000,
        alias="diffusion.reconnect.backoff.max.ms",
        ge=100,
        description="Longest wait between reconnection attempts.",
    )

    @field_validator("kafka_topic")
    @classmethod
    def _kafka_topic(cls, value: str) -> str:
        from .kafka_topic_names import KafkaTopicPattern, TopicNameError

        try:
            KafkaTopicPattern(value).validate_static()  # a fixed name that can never be legal is a config error
        except TopicNameError as exc:
            raise ValueError(str(exc)) from None
        return value
