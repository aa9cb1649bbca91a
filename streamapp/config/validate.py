"""Validating a connector config as Kafka Connect does: the checks of ``streamapp check-config``,
answered as Connect's ``ConfigInfos`` (``PUT /connector-plugins/{plugin}/config/validate``) or as
the 400 that ``POST /connectors`` and ``PUT /connectors/{name}/config`` give an invalid config.

Every key of the connector is listed (definition and value), each error attached to its key;
PASSWORD values are ``[hidden]``. Nothing here echoes a password, including in error messages
(the loader never puts a secret value in one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import registry
from ..errors import ConfigError, ConfigErrors
from .definitions import KeyDefinition, connector_definitions
from .files import RawConnectorConfig
from .loader import LoadedConnector, load_connector, looks_secret
from .providers import has_placeholder
from .types import HIDDEN

__all__ = ["Validation", "config_infos", "invalid_message", "masked", "plain_secrets", "validate"]

SOURCE = "REST API"


@dataclass(frozen=True)
class Validation:
    connector_type: registry.ConnectorType
    props: dict[str, Any]
    loaded: LoadedConnector | None
    errors: list[ConfigError]


def validate(props: dict[str, Any]) -> Validation:
    """``props`` must name a known ``connector.class`` (callers check that first)."""
    connector_type = registry.lookup(str(props["connector.class"]))
    try:
        loaded = load_connector(RawConnectorConfig(SOURCE, dict(props)))
    except ConfigErrors as exc:
        return Validation(connector_type, props, None, list(exc.errors))
    return Validation(connector_type, props, loaded, [])


def invalid_message(errors: list[ConfigError]) -> str:
    """Connect's 400 message for a config with errors (one line per error, key first)."""
    lines = [f"Connector configuration is invalid and contains the following {len(errors)} error(s):"]
    lines += [f"{e.key}: {e.detail}" if e.key else e.detail for e in errors]
    lines.append(
        "You can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`"
    )
    return "\n".join(lines)


def _value(definition: KeyDefinition | None, key: str, props: dict[str, Any]) -> str | None:
    secret = (definition is not None and definition.type == "PASSWORD") or looks_secret(key)
    if key in props:
        raw = props[key]
        if raw is None:
            return None
        if secret:
            return HIDDEN
        if isinstance(raw, bool):
            return "true" if raw else "false"
        return str(raw)
    if definition is None:
        return None
    return definition.default


def _definition_json(d: KeyDefinition) -> dict[str, Any]:
    return {
        "name": d.name,
        "type": d.type,
        "required": d.required,
        "default_value": d.default,
        "importance": d.importance,
        "documentation": d.documentation,
        "group": d.group,
        "order": d.order,
        "width": "NONE",
        "display_name": d.display_name,
        "dependents": [],
    }


def config_infos(validation: Validation) -> dict[str, Any]:
    """Connect's ``ConfigInfos`` document for one validation."""
    props = validation.props
    definitions = connector_definitions(validation.connector_type, props)
    by_key: dict[str, list[str]] = {}
    for error in validation.errors:
        by_key.setdefault(error.key or "name", []).append(error.detail)
    known = {d.name for d in definitions}
    extra = [
        KeyDefinition(key, "STRING", False, None, "LOW", "", "Common", 0, key) for key in by_key if key not in known
    ]
    configs = []
    groups: list[str] = []
    for d in definitions + extra:
        if d.group not in groups:
            groups.append(d.group)
        configs.append(
            {
                "definition": _definition_json(d),
                "value": {
                    "name": d.name,
                    "value": _value(d, d.name, props),
                    "recommended_values": list(d.recommended),
                    "errors": by_key.get(d.name, []),
                    "visible": True,
                },
            }
        )
    return {
        "name": validation.connector_type.class_name,
        "error_count": sum(len(c["value"]["errors"]) for c in configs),
        "groups": groups,
        "configs": configs,
    }


def plain_secrets(loaded: LoadedConnector, props: dict[str, Any]) -> list[str]:
    """Password keys given as plain text (no ``${provider:...}`` placeholder), for a warning."""
    out = []
    for key in sorted(loaded.secret_keys):
        value = props.get(key)
        if isinstance(value, str) and value and not has_placeholder(value):
            out.append(key)
    return out


def masked(config: dict[str, Any]) -> dict[str, Any]:
    """A config as given, with every password hidden (by its type where known, else by its name)."""
    secret: set[str] = set()
    try:
        secret = registry.lookup(str(config.get("connector.class", ""))).config_model.secret_keys()
    except registry.UnknownConnectorClass:
        pass
    return {k: (HIDDEN if k in secret or looks_secret(k) else v) for k, v in config.items()}
