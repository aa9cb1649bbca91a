"""Connector implementations; importing this package registers every connector type."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from . import coap_config, diffusion_config
from .registry import ConnectorType, lookup, register, registered

__all__ = ["ConnectorType", "lookup", "register", "registered"]


def _lazy(module: str) -> Callable[..., Any]:
    """An implementation imported on first use: check-config stays fast and needs no SDK import."""

    def implementation(app: Any, loaded: Any, settings: Any) -> Any:
        return importlib.import_module(f"{__name__}.{module}").install(app, loaded, settings)

    return implementation


register(
    ConnectorType(
        name="diffusion-sink",
        class_name=diffusion_config.SINK_CLASS,
        kind="sink",
        config_model=diffusion_config.DiffusionSinkConfig,
        description="Kafka topics to Diffusion topics",
        implementation=_lazy("diffusion_sink"),
    )
)
register(
    ConnectorType(
        name="diffusion-source",
        class_name=diffusion_config.SOURCE_CLASS,
        kind="source",
        config_model=diffusion_config.DiffusionSourceConfig,
        description="Diffusion topics to Kafka topics",
        implementation=_lazy("diffusion_source"),
    )
)
register(
    ConnectorType(
        name="coap-sink",
        class_name=coap_config.SINK_CLASS,
        kind="sink",
        config_model=coap_config.CoapSinkConfig,
        description="Kafka topics to CoAP resources, routed by KCQL",
        implementation=_lazy("coap_sink"),
    )
)
