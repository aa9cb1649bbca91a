"""Connector types by Connect class name.

A connector module describes itself with a :class:`ConnectorType` (its class names, its config
model, and its implementation once it has one) and calls :func:`register`. The loader and the
worker only ever look types up here, so adding a connector is adding a module.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from streamapp.config.model import ConnectorConfig

__all__ = ["ConnectorType", "register", "lookup", "registered", "UnknownConnectorClass"]


class UnknownConnectorClass(LookupError):
    pass


@dataclass(frozen=True)
class ConnectorType:
    name: str  # short alias, e.g. "diffusion-sink"
    class_name: str  # the Connect class name users have in their configs
    kind: Literal["sink", "source"]
    config_model: type[ConnectorConfig]
    description: str = ""
    # "module:Class" of the implementation, imported on first use (check-config needs no SDK);
    # None while the connector is not built yet.
    implementation: str | None = field(default=None, compare=False)

    def create(self, worker: Any, loaded: Any) -> Any:
        """A new connector instance for ``loaded`` in ``worker`` (not installed yet)."""
        if self.implementation is None:
            raise NotImplementedError(f"{self.class_name} is not implemented in this version of streamapp")
        module, _, name = self.implementation.partition(":")
        return getattr(importlib.import_module(module), name)(worker, loaded)

    @property
    def aliases(self) -> tuple[str, ...]:
        """Names accepted in ``connector.class``: Connect also accepts the simple class name and
        the simple name without its ``Connector`` suffix."""
        simple = self.class_name.rsplit(".", 1)[-1]
        names = [self.class_name, simple, re.sub(r"Connector$", "", simple), self.name]
        return tuple(dict.fromkeys(names))


_TYPES: dict[str, ConnectorType] = {}
_BY_NAME: dict[str, ConnectorType] = {}


def register(connector_type: ConnectorType) -> ConnectorType:
    """Register (or replace, when an implementation arrives) a connector type."""
    old = _TYPES.get(connector_type.name)
    if old is not None:
        for alias in old.aliases:
            _BY_NAME.pop(alias, None)
    _TYPES[connector_type.name] = connector_type
    for alias in connector_type.aliases:
        _BY_NAME[alias] = connector_type
    return connector_type


def lookup(class_name: str) -> ConnectorType:
    try:
        return _BY_NAME[class_name.strip()]
    except KeyError:
        known = ", ".join(sorted(t.class_name for t in _TYPES.values()))
        aliases = ", ".join(sorted(t.name for t in _TYPES.values()))
        raise UnknownConnectorClass(
            f"unknown connector class '{class_name}'; supported: {known} (aliases: {aliases})"
        ) from None


def registered() -> list[ConnectorType]:
    return sorted(_TYPES.values(), key=lambda t: t.name)
