"""From connector config files to validated, typed connector configs.

``load_connectors(paths)`` reads every file, resolves config-provider placeholders, finds the
connector type by ``connector.class``, validates keys and converter options, and collects every
error of every file before raising, so a user sees all problems in one run. Unknown keys are
warnings (Connect ignores them too), with a suggestion when a known key is close.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

import streamapp.connector_types  # noqa: F401  (every connector type and its config model)
from streamapp.core import registry
from streamapp.errors import ConfigError, ConfigErrors

from .converter_options import ConverterOptions, converter_options_model
from .files import RawConnectorConfig, discover_connector_files, read_connector_file
from .model import ConnectorConfig
from .providers import PlaceholderError, resolve_placeholders
from .types import HIDDEN, KeyedError

__all__ = ["LoadedConnector", "load_connectors", "load_connector", "looks_secret"]

logger = logging.getLogger(__name__)

# Keys that are not the connector's but Connect tooling writes into configs; accepted silently.
_TOLERATED = {"tasks"}  # Stream Reactor's connect-cli files use "tasks" for tasks.max
# Unknown keys with these words are masked anyway: a typo in a password key must not leak it.
_SECRET_WORDS = re.compile(r"(pass|secret|user\.info|token|credential|api\.key)", re.I)


def looks_secret(key: str) -> bool:
    return bool(_SECRET_WORDS.search(key))


@dataclass(frozen=True)
class LoadedConnector:
    """A validated connector config and everything needed to run or show it."""

    name: str
    source: str
    type: registry.ConnectorType
    config: ConnectorConfig
    key_converter_options: ConverterOptions
    value_converter_options: ConverterOptions
    raw: dict[str, str] = field(repr=False)  # resolved values as written, for unknown keys
    secret_keys: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()

    def converters(self) -> tuple[Any, Any]:
        """New (key, value) converters for this connector's ``key.converter``/``value.converter`` and options."""
        from streamapp.converters import make_converter

        return (
            make_converter(self.config.key_converter, self.key_converter_options, is_key=True),
            make_converter(self.config.value_converter, self.value_converter_options, is_key=False),
        )

    @property
    def implemented(self) -> bool:
        return self.type.implementation is not None

    def masked(self) -> dict[str, str]:
        """Every effective key (defaults included) as Connect would print it, passwords hidden."""
        out: dict[str, str] = {}
        _dump(self.config, "", out)
        _dump(self.key_converter_options, "key.converter.", out)
        _dump(self.value_converter_options, "value.converter.", out)
        for key, value in self.raw.items():
            out.setdefault(key, _text(value))
        for key in out:
            if key in self.secret_keys or looks_secret(key):
                out[key] = HIDDEN
        return dict(sorted(out.items()))


def _dump(model: BaseModel, prefix: str, out: dict[str, str]) -> None:
    for name, info in type(model).model_fields.items():
        out[prefix + (info.alias or name)] = _text(getattr(model, name))


def _text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return HIDDEN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def load_connectors(paths: list[str | Path]) -> tuple[list[LoadedConnector], list[ConfigError]]:
    """Load every connector under ``paths``; returns (connectors, errors) and never raises for one bad file."""
    errors: list[ConfigError] = []
    loaded: list[LoadedConnector] = []
    try:
        files = discover_connector_files(paths)
    except ConfigError as exc:
        return [], [exc]
    seen: dict[str, str] = {}
    for path in files:
        try:
            raws = read_connector_file(path)
        except ConfigError as exc:
            errors.append(exc)
            continue
        for raw in raws:
            try:
                connector = load_connector(raw)
            except ConfigErrors as exc:
                errors.extend(exc.errors)
                continue
            if connector.name in seen:
                errors.append(
                    ConfigError(
                        f"connector name '{connector.name}' is already used by {seen[connector.name]}; names must be unique",
                        source=raw.source,
                        key="name",
                    )
                )
                continue
            seen[connector.name] = raw.source
            loaded.append(connector)
    return loaded, errors


def load_connector(raw: RawConnectorConfig) -> LoadedConnector:
    """Validate one connector; raises :class:`ConfigErrors` with every problem found."""
    errors: list[ConfigError] = []
    props = _resolve(raw, errors)

    class_name = props.get("connector.class")
    if not class_name:
        raise ConfigErrors(errors + [_missing(raw.source, "connector.class", "the connector implementation class")])
    try:
        ctype = registry.lookup(class_name)
    except registry.UnknownConnectorClass as exc:
        raise ConfigErrors(errors + [ConfigError(str(exc), source=raw.source, key="connector.class")]) from None

    model = ctype.config_model
    if "tasks" in props and "tasks.max" not in props:
        props["tasks.max"] = props["tasks"]
    main = {k: v for k, v in props.items() if not _is_converter_option(k)}
    config = _validate(model, main, raw.source, errors, secret=model.secret_keys())

    key_opts = _converter_options(props, "key", config, raw.source, errors)
    value_opts = _converter_options(props, "value", config, raw.source, errors)
    if errors:
        # A key whose placeholder failed was left out; do not also call it "missing".
        failed: set[str | None] = set()
        unique = []
        for error in errors:
            if error.key not in failed:
                unique.append(error)
            failed.add(error.key)
        raise ConfigErrors(unique)
    assert config is not None and key_opts is not None and value_opts is not None

    warnings = _unknown_key_warnings(props, model, key_opts, value_opts, raw.source)
    # A connector's own warnings: settings that are valid but weaken security or do nothing.
    warnings += [f"{raw.source}: {message}" for message in getattr(config, "config_warnings", list)()]
    for message in warnings:
        logger.warning("%s", message)
    secret = set(model.secret_keys())
    secret |= {"key.converter." + k for k in _secret_aliases(type(key_opts))}
    secret |= {"value.converter." + k for k in _secret_aliases(type(value_opts))}
    return LoadedConnector(
        name=config.name,
        source=raw.source,
        type=ctype,
        config=config,
        key_converter_options=key_opts,
        value_converter_options=value_opts,
        raw={k: v for k, v in props.items()},
        secret_keys=frozenset(secret),
        warnings=tuple(warnings),
    )


def _resolve(raw: RawConnectorConfig, errors: list[ConfigError]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for key, value in raw.props.items():
        key = str(key).strip()
        if isinstance(value, str):
            try:
                value, _ = resolve_placeholders(value)
            except PlaceholderError as exc:
                errors.append(ConfigError(str(exc), source=raw.source, key=key))
                continue
        elif isinstance(value, bool):
            value = "true" if value else "false"  # JSON true -> Connect's "true"
        elif value is None:
            continue  # JSON null: Connect treats a null as "not set"
        elif isinstance(value, (dict, list)):
            errors.append(
                ConfigError(
                    "values must be strings, numbers or booleans (Connect configs are flat key/value pairs)",
                    source=raw.source,
                    key=key,
                )
            )
            continue
        props[key] = value
    return props


def _is_converter_option(key: str) -> bool:
    return key.startswith(("key.converter.", "value.converter."))


def _converter_options(
    props: dict[str, Any], which: str, config: ConnectorConfig | None, source: str, errors: list[ConfigError]
) -> ConverterOptions | None:
    if config is None:
        return None
    class_name = config.key_converter if which == "key" else config.value_converter
    prefix = f"{which}.converter."
    options = {k[len(prefix) :]: v for k, v in props.items() if k.startswith(prefix)}
    model = converter_options_model(class_name)
    return _validate(model, options, source, errors, prefix=prefix, secret=_secret_aliases(model))


def _secret_aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or n for n, f in model.model_fields.items() if f.annotation is SecretStr}


def _validate(
    model: type[BaseModel],
    values: dict[str, Any],
    source: str,
    errors: list[ConfigError],
    *,
    prefix: str = "",
    secret: set[str] = frozenset(),  # type: ignore[assignment]
) -> Any:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            errors.append(_config_error(model, err, source, prefix, secret))
        return None


def _config_error(model: type[BaseModel], err: Any, source: str, prefix: str, secret: set[str]) -> ConfigError:
    loc = err.get("loc") or ()
    key = str(loc[0]) if loc else None
    ctx_error = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_error, KeyedError):
        return ConfigError(str(ctx_error), source=source, key=prefix + ctx_error.key)
    if err["type"] == "missing":
        return _missing(source, prefix + (key or "?"), _description(model, key))
    message = str(ctx_error) if isinstance(ctx_error, ValueError) else err["msg"]
    message = message[0].lower() + message[1:] if message else message
    if key is not None and key not in secret and not looks_secret(key) and "input" in err:
        message += f" (got {err['input']!r})"
    return ConfigError(message, source=source, key=prefix + key if key else None)


def _missing(source: str, key: str, description: str | None) -> ConfigError:
    what = f" ({description})" if description else ""
    return ConfigError(f"required key is missing{what}; it has no default value", source=source, key=key)


def _description(model: type[BaseModel], key: str | None) -> str | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return (info.description or "").rstrip(".") or None
    return None


def _unknown_key_warnings(
    props: dict[str, Any], model: type[ConnectorConfig], key_opts: BaseModel, value_opts: BaseModel, source: str
) -> list[str]:
    known = model.known_keys() | _TOLERATED
    known |= {"key.converter." + k for k in _aliases(type(key_opts))}
    known |= {"value.converter." + k for k in _aliases(type(value_opts))}
    warnings = []
    for key in props:
        if key in known or key.startswith(("transforms.", "predicates.")):
            continue
        hint = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)
        suggestion = f"; did you mean '{hint[0]}'?" if hint else ""
        warnings.append(f"{source}: key '{key}' is not a known key of {model.__name__} and is ignored{suggestion}")
    return warnings


def _aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or n for n, f in model.model_fields.items()}
