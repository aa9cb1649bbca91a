"""Config keys of the Diffusion sink and source (the seed's keys plus Connect's).

Keys, defaults and semantics follow the Java connector (``DiffusionConfig.java``); unlike it,
values are checked: the URL must be ws:// or wss://, the poll settings must be positive.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

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
        description="Diffusion topic path pattern; tokens ${topic}, ${key}, ${key.version}, ${value.version}.",
    )


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
