"""Every connector type this version runs; importing this module registers them."""

from __future__ import annotations

from .coap import config as coap_config
from .core.registry import ConnectorType, register
from .diffusion import config as diffusion_config

__all__ = ["COAP_SINK", "DIFFUSION_SINK", "DIFFUSION_SOURCE"]

DIFFUSION_SINK = register(
    ConnectorType(
        name="diffusion-sink",
        class_name=diffusion_config.SINK_CLASS,
        kind="sink",
        config_model=diffusion_config.DiffusionSinkConfig,
        description="Kafka topics to Diffusion topics",
        implementation="streamapp.diffusion.sink:DiffusionSink",
    )
)
DIFFUSION_SOURCE = register(
    ConnectorType(
        name="diffusion-source",
        class_name=diffusion_config.SOURCE_CLASS,
        kind="source",
        config_model=diffusion_config.DiffusionSourceConfig,
        description="Diffusion topics to Kafka topics",
        implementation="streamapp.diffusion.source:DiffusionSource",
    )
)
COAP_SINK = register(
    ConnectorType(
        name="coap-sink",
        class_name=coap_config.SINK_CLASS,
        kind="sink",
        config_model=coap_config.CoapSinkConfig,
        description="Kafka topics to CoAP resources, routed by KCQL",
        implementation="streamapp.coap.sink:CoapSink",
    )
)
