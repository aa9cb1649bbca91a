"""Connector implementations; importing this package registers every connector type."""

from __future__ import annotations

from . import coap_config, diffusion_config
from .registry import ConnectorType, lookup, register, registered

__all__ = ["ConnectorType", "lookup", "register", "registered"]

register(
    ConnectorType(
        name="diffusion-sink",
        class_name=diffusion_config.SINK_CLASS,
        kind="sink",
        config_model=diffusion_config.DiffusionSinkConfig,
        description="Kafka topics to Diffusion topics",
    )
)
register(
    ConnectorType(
        name="diffusion-source",
        class_name=diffusion_config.SOURCE_CLASS,
        kind="source",
        config_model=diffusion_config.DiffusionSourceConfig,
        description="Diffusion topics to Kafka topics",
    )
)
register(
    ConnectorType(
        name="coap-sink",
        class_name=coap_config.SINK_CLASS,
        kind="sink",
        config_model=coap_config.CoapSinkConfig,
        description="Kafka topics to CoAP resources, routed by KCQL",
    )
)
