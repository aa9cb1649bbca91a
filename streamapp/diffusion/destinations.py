"""Diffusion sink destination patterns: ``diffusion.destination`` -> a topic path per record.

A pattern is literal text with tokens, as in the Java connector (seed "Destination Patterns"):

==================  ================================================================
``${topic}``        the record's Kafka topic
``${key}``          the record's key as text (see below)
``${key.version}``  the version of the record's key schema
``${value.version}`` the version of the record's value schema
``${partition}``    the record's Kafka partition (new)
``${offset}``       the record's Kafka offset (new)
==================  ================================================================

:meth:`DestinationPattern.parse` runs once, at startup: any other ``${...}`` (or an unterminated
``${``) raises ``ValueError`` naming the token, its position and the allowed tokens, and literal
text that can never make a valid path (``a//b``, a trailing ``/``, a first segment
``Diffusion``) is refused there too. One leading ``/`` is dropped, as Diffusion's own path
canonicalisation does, so ``/kafka/${topic}`` and ``kafka/${topic}`` are the same pattern.
:meth:`DestinationPattern.render` then only fills a precompiled list of parts.

Fixes of the Java connector's ``pathFromRecord`` (reference 2.4), each a :class:`PathError` (a
record error for the sink's error policy) that names the token and the record's
topic/partition/offset, where Java left ``${...}`` literally in the path:

* ``${key}`` with a null key;
* ``${key.version}`` / ``${value.version}`` when the record has no such schema or the schema
  has no version (and ``${value.version}`` is resolved for null-key records too);
* a rendered path that breaks Diffusion's path rules (reference 6.2): an empty segment (from an
  empty key, a key with ``//`` or a leading or trailing ``/``), or ``Diffusion`` as first
  segment (reserved); or that no subscriber could use: a control character (``\x00``-``\x1f``,
  ``\x7f``-``\x9f``: such a topic is created and updated, yet no selector can name it) or a
  lone surrogate.

Key text: a string key as it is; any other key as :func:`~streamapp.diffusion.values.to_diffusion_string`
renders it: integers ``42``, booleans ``true``, floats ``1.5``, Decimal ``12.30``, Date
``2024-01-31``, structs and maps as compact JSON objects in field order (``{"id":1,"region":"eu"}``),
arrays as JSON arrays, and bytes keys (ByteArrayConverter) as their UTF-8 text, an error when they
are not UTF-8 (Java rendered ``[B@1f2a``). A ``/`` inside a key is not escaped: it adds levels to
the path, as in the Java connector. Versions render with ``str()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamapp.data import DataError, Record, RecordError

from .values import to_diffusion_string

__all__ = ["DestinationPattern", "PathError", "TOKENS", "RESERVED_FIRST_SEGMENT", "validate_topic_path"]

TOKENS = ("topic", "key", "key.version", "value.version", "partition", "offset")
# Control characters (C0, DEL, C1): a topic created with one can never be named in a selector, so
# nobody would see it; lone surrogates cannot even be encoded.
_UNSENDABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
RESERVED_FIRST_SEGMENT = "Diffusion"
_ALLOWED = ", ".join(f"${{{t}}}" for t in TOKENS)


class PathError(RecordError, ValueError):
    """A record cannot be mapped to a valid Diffusion topic path.

    ``token`` is the token at fault (None when the whole path is), ``path`` the rendered path
    when there is one.
    """

    def __init__(self, reason: str, *, token: str | None = None, path: str | None = None) -> None:
        self.token = token
        self.path = path
        super().__init__(reason)


def validate_topic_path(path: str) -> str | None:
    """Why ``path`` is not a valid Diffusion topic path, or None when it is."""
    if not path:
        return "the path is empty"
    if path[0] == "/":
        return "the path starts with '/' (an empty first segment)"
    if path[-1] == "/":
        return "the path ends with '/' (an empty last segment)"
    if "//" in path:
        return "the path has an empty segment ('//')"
    if path == RESERVED_FIRST_SEGMENT or path.startswith(RESERVED_FIRST_SEGMENT + "/"):
        return f"paths under '{RESERVED_FIRST_SEGMENT}/' are reserved for the Diffusion server"
    bad = _UNSENDABLE.search(path)
    if bad is not None:
        char = bad.group()
        kind = "a control character" if not 0xD800 <= ord(char) <= 0xDFFF else "a lone surrogate (not UTF-8)"
        return f"the path has {kind}, U+{ord(char):04X}, at position {bad.start()}: no subscriber could select it"
    return None


def _topic(record: Record) -> str:
    return record.topic


def _partition(record: Record) -> str:
    return str(record.partition)


def _offset(record: Record) -> str:
    return str(record.offset)


def _key(record: Record) -> str:
    key = record.key
    if type(key) is str:
        return key
    if key is None:
        raise PathError("${key} needs a record key, but the key is null", token="key")
    try:
        return to_diffusion_string(record.key_schema, key)  # type: ignore[return-value]
    except DataError as exc:
        raise PathError(f"${{key}} cannot render the key: {exc}", token="key") from None


def _key_version(record: Record) -> str:
    return _version(record.key_schema, "key")


def _value_version(record: Record) -> str:
    return _version(record.value_schema, "value")


def _version(schema: Any, which: str) -> str:
    if schema is None:
        raise PathError(
            f"${{{which}.version}} needs the {which} schema's version, but the record has no {which} schema "
            f"(its {which}.converter gives none)",
            token=f"{which}.version",
        )
    if schema.version is None:
        raise PathError(
            f"${{{which}.version}} needs the {which} schema's version, but the {which} schema has no version",
            token=f"{which}.version",
        )
    return str(schema.version)


_RENDERERS: dict[str, Callable[[Record], str]] = {
    "topic": _topic,
    "key": _key,
    "key.version": _key_version,
    "value.version": _value_version,
    "partition": _partition,
    "offset": _offset,
}
# Stand-ins for a trial render at parse time: non-empty, no '/', never the reserved segment.
_SAMPLE = "x"


@dataclass(frozen=True, eq=False)
class DestinationPattern:
    """A parsed ``diffusion.destination``; build with :meth:`parse`, use with :meth:`render`."""

    pattern: str
    parts: tuple[str | Callable[[Record], str], ...]
    tokens: frozenset[str]

    @classmethod
    def parse(cls, pattern: str) -> DestinationPattern:
        """Parse and check ``pattern``; ``ValueError`` says what is wrong and where."""
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("the destination pattern is empty; give a Diffusion topic path such as kafka/${topic}")
        # Diffusion canonicalises a path by dropping one leading '/'; do it once, here.
        text = pattern[1:] if pattern.startswith("/") else pattern
        offset = len(pattern) - len(text)
        parts: list[str | Callable[[Record], str]] = []
        tokens = set()
        position = 0
        while True:
            start = text.find("${", position)
            if start < 0:
                break
            end = text.find("}", start + 2)
            if end < 0:
                raise ValueError(
                    f"unterminated token '{text[start : start + 20]}' at position {start + offset} in '{pattern}'; "
                    f"tokens are written ${{name}}, one of {_ALLOWED}"
                )
            name = text[start + 2 : end]
            if name not in _RENDERERS:
                raise ValueError(
                    f"unknown token '${{{name}}}' at position {start + offset} in '{pattern}'; allowed tokens: {_ALLOWED}"
                )
            if start > position:
                parts.append(text[position:start])
            parts.append(_RENDERERS[name])
            tokens.add(name)
            position = end + 1
        if position < len(text):
            parts.append(text[position:])
        trial = "".join(part if isinstance(part, str) else _SAMPLE for part in parts)
        problem = validate_topic_path(trial)
        if problem is not None:
            raise ValueError(f"'{pattern}' can never give a valid Diffusion topic path: {problem}")
        return cls(pattern, tuple(parts), frozenset(tokens))

    @property
    def is_constant(self) -> bool:
        """True when the pattern has no token: every record goes to the same path."""
        return not self.tokens

    def render(self, record: Record) -> str:
        """The topic path for ``record``; :class:`PathError` when there is none."""
        parts = self.parts
        try:
            if len(parts) == 1:
                only = parts[0]
                path = only if isinstance(only, str) else only(record)
            else:
                path = "".join([part if isinstance(part, str) else part(record) for part in parts])
        except PathError as exc:
            raise self._located(exc, record) from None
        if (
            not path
            or path[0] == "/"
            or path[-1] == "/"
            or "//" in path
            or path.startswith(RESERVED_FIRST_SEGMENT)
            or _UNSENDABLE.search(path)
        ):
            problem = validate_topic_path(path)
            if problem is not None:
                raise self._located(
                    PathError(f"{problem}: {path[:200]!r}{self._token_values(record)}", path=path), record
                )
        return path

    def _token_values(self, record: Record) -> str:
        shown = []
        for name in TOKENS:
            if name in self.tokens:
                try:
                    shown.append(f"${{{name}}}={_RENDERERS[name](record)[:60]!r}")
                except PathError:
                    continue
        return f" ({', '.join(shown)})" if shown else ""

    def _located(self, exc: PathError, record: Record) -> PathError:
        return exc.in_context(f"diffusion.destination '{self.pattern}' for the record at {record.coordinates()}")  # type: ignore[return-value]

    def __str__(self) -> str:
        return self.pattern

    def __repr__(self) -> str:
        return f"DestinationPattern({self.pattern!r})"
