"""Every key a connector understands, described as Kafka Connect's ``ConfigDef`` describes its keys.

Derived from the typed config models (one declaration per key, :mod:`streamapp.config.model`):
Connect's type from the annotation, required when there is no default, the default as Connect
prints it, the description as documentation, allowed values (``Literal``) as recommended values,
and a group by where the key is declared: Connect's own keys ("Common", "Error Handling", "Topic
Creation"), the connector's keys (named after the connector), the converters' options.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr

from .converter_options import converter_options_model, resolve_converter_class
from .model import ConnectorConfig, SinkConnectorConfig, SourceConnectorConfig
from .types import HIDDEN

__all__ = ["KeyDefinition", "connector_definitions"]

ConnectType = Literal["BOOLEAN", "CLASS", "DOUBLE", "INT", "LIST", "LONG", "PASSWORD", "SHORT", "STRING"]
_CLASS_KEYS = {"connector.class", "key.converter", "value.converter", "header.converter"}


@dataclass(frozen=True)
class KeyDefinition:
    name: str
    type: ConnectType
    required: bool
    default: str | None  # as Connect prints it; None when required (or no default)
    importance: Literal["HIGH", "MEDIUM", "LOW"]
    documentation: str
    group: str
    order: int
    display_name: str
    recommended: tuple[str, ...] = field(default=())


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> X."""
    if get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _connect_type(key: str, annotation: Any) -> ConnectType:
    annotation = _unwrap(annotation)
    if key in _CLASS_KEYS:
        return "CLASS"
    if annotation is SecretStr:
        return "PASSWORD"
    if annotation is bool:
        return "BOOLEAN"
    if annotation is int:
        return "LONG" if key.endswith(".ms") else "INT"
    if annotation is float:
        return "DOUBLE"
    if get_origin(annotation) in (list, tuple) or annotation in (list, tuple):
        return "LIST"
    return "STRING"


def _text(value: Any, ctype: ConnectType) -> str | None:
    if value is None:
        return None
    if ctype == "PASSWORD":
        return HIDDEN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _group(key: str, owner: type[BaseModel], connector_group: str) -> str:
    if key.startswith("errors."):
        return "Error Handling"
    if owner is SourceConnectorConfig:
        return "Topic Creation"
    if owner in (ConnectorConfig, SinkConnectorConfig):
        return "Common"
    return connector_group


def _owner(model: type[BaseModel], name: str) -> type[BaseModel]:
    """The most basic class of the model's hierarchy that declares field ``name``."""
    for cls in reversed(model.__mro__):
        if isinstance(cls, type) and issubclass(cls, BaseModel) and name in getattr(cls, "__annotations__", {}):
            return cls
    return model


def _model_definitions(
    model: type[BaseModel], prefix: str, group_of: typing.Callable[[str, type[BaseModel]], str]
) -> list[KeyDefinition]:
    out = []
    for name, info in model.model_fields.items():
        key = prefix + (info.alias or name)
        ctype = _connect_type(key, info.annotation)
        required = info.is_required()
        literal = _unwrap(info.annotation)
        recommended = tuple(str(v) for v in get_args(literal)) if get_origin(literal) is Literal else ()
        out.append(
            KeyDefinition(
                name=key,
                type=ctype,
                required=required,
                default=None if required else _text(info.get_default(call_default_factory=True), ctype),
                importance="HIGH" if required or key == "connector.class" else "MEDIUM",
                documentation=(info.description or "").strip(),
                group=group_of(key, _owner(model, name)),
                order=0,
                display_name=info.title or key,
                recommended=recommended,
            )
        )
    return out


def _converter(props: dict[str, Any], which: str) -> str | None:
    value = props.get(f"{which}.converter")
    if value is None:
        return resolve_converter_class(ConnectorConfig.model_fields[f"{which}_converter"].default)
    try:
        return resolve_converter_class(str(value))
    except ValueError:
        return None


def connector_definitions(connector_type: Any, props: dict[str, Any]) -> list[KeyDefinition]:
    """Every key of ``connector_type`` with ``props`` (which decide the converters' options), in
    Connect's order: common keys, the connector's, then converter options; ``order`` counts within a group."""
    simple = connector_type.class_name.rsplit(".", 1)[-1]
    connector_group = simple.removesuffix("Connector").removesuffix("Sink").removesuffix("Source") or simple
    definitions = _model_definitions(
        connector_type.config_model, "", lambda key, owner: _group(key, owner, connector_group)
    )
    for which, title in (("key", "Key Converter"), ("value", "Value Converter")):
        class_name = _converter(props, which)
        if class_name is None:
            continue
        try:
            model = converter_options_model(class_name)
        except (KeyError, ValueError):
            continue
        definitions += _model_definitions(model, f"{which}.converter.", lambda key, owner, t=title: t)
    rank = {"Common": 0, connector_group: 1, "Error Handling": 2, "Topic Creation": 3}
    definitions.sort(key=lambda d: rank.get(d.group, 4))  # stable: declaration order within a group
    counters: dict[str, int] = {}
    ordered = []
    for d in definitions:
        counters[d.group] = counters.get(d.group, 0) + 1
        ordered.append(
            KeyDefinition(**{**d.__dict__, "order": counters[d.group]})  # type: ignore[arg-type]
        )
    return ordered
