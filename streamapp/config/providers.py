"""Kafka Connect config-provider placeholders: ``${env:NAME}``, ``${file:/path:key}``, ``${directory:/dir:file}``.

The syntax is Connect's ``${provider:[path:]key}`` (``ConfigTransformer``). Providers:

* ``env``: an environment variable (``EnvVarConfigProvider``, KIP-887);
* ``file``: the value of ``key`` in the Java ``.properties`` file at ``path`` (``FileConfigProvider``);
* ``directory``: the whole content of the file ``key`` inside the directory ``path``
  (``DirectoryConfigProvider``), which is how Kubernetes Secret volumes are mounted.

Connector destination tokens such as ``${topic}`` or ``${key.version}`` have no ``:`` and are
left alone. An unknown provider or an unresolvable reference is an error: Connect would pass the
text through, and a literal ``${vault:...}`` reaching a server as a password helps nobody.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from jproperties import Properties

__all__ = ["has_placeholder", "resolve_placeholders", "PlaceholderError", "PROVIDERS"]

# Same shape as Connect's ConfigTransformer.DEFAULT_PATTERN.
_PLACEHOLDER = re.compile(r"\$\{([^}:]*?):(?:([^}]*?):)?([^}]*?)\}")

PROVIDERS = ("env", "file", "directory")


class PlaceholderError(ValueError):
    """A placeholder that cannot be resolved; the message says which and why (never a value)."""


def has_placeholder(value: str) -> bool:
    """The value names a config provider (a secret that is not written in the config itself)."""
    return _PLACEHOLDER.search(value) is not None


def resolve_placeholders(value: str) -> tuple[str, bool]:
    """Return ``(resolved, used_placeholder)`` for one config value."""
    used = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal used
        used = True
        provider, path, key = match.group(1), match.group(2), match.group(3)
        return _lookup(provider, path, key, match.group(0))

    return _PLACEHOLDER.sub(substitute, value), used


def _lookup(provider: str, path: str | None, key: str, text: str) -> str:
    if provider == "env":
        if path:
            raise PlaceholderError(f"{text}: the env provider takes no path; write ${{env:NAME}}")
        if key not in os.environ:
            raise PlaceholderError(f"{text}: environment variable {key} is not set")
        return os.environ[key]
    if provider == "file":
        if not path:
            raise PlaceholderError(
                f"{text}: the file provider needs a path and a key: ${{file:/path/to/file.properties:key}}"
            )
        return _file_value(Path(path), key, text)
    if provider == "directory":
        if not path:
            raise PlaceholderError(
                f"{text}: the directory provider needs a directory and a file name: ${{directory:/dir:file}}"
            )
        target = Path(path) / key
        if Path(key).name != key:
            raise PlaceholderError(f"{text}: the file name must not contain a path")
        try:
            return target.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlaceholderError(f"{text}: cannot read {target}: {exc.strerror}") from exc
    raise PlaceholderError(f"{text}: unknown config provider '{provider}'; available: {', '.join(PROVIDERS)}")


def _file_value(path: Path, key: str, text: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PlaceholderError(f"{text}: cannot read {path}: {exc.strerror}") from exc
    props = Properties()
    try:
        props.load(data, "utf-8")
    except Exception as exc:
        raise PlaceholderError(f"{text}: {path} is not a valid .properties file: {exc}") from exc
    if key not in props:
        raise PlaceholderError(f"{text}: key '{key}' not found in {path}")
    return props[key].data
