"""The topic tree: paths, topic types, specifications and stored values.

Topics are kept in a flat dict keyed by path: Diffusion has no implicit parents (``a/b/c`` can
exist without ``a``), so a tree structure buys nothing for an emulator.

Values are stored as the bytes the client sent. The CBOR types (JSON, string, int64, double)
are checked with cbor2 so a malformed value is refused the way a server would refuse it,
and decoded only for introspection. For string, int64 and double the single CBOR ``null``
(``f6``) means "no value": the topic forgets its value, current subscribers are told the
value is now null, and later subscribers get no value at all.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import cbor2

from .codes import TopicTypeCode

__all__ = [
    "CBOR_NULL",
    "SUPPORTED_TYPES",
    "InvalidTopicPath",
    "InvalidValue",
    "Topic",
    "TopicTree",
    "canonical_path",
    "decode_value",
    "type_name",
    "validate_value",
]

CBOR_NULL = b"\xf6"

#: Topic types the emulator can create, with the names the SDK uses for them.
SUPPORTED_TYPES: dict[int, str] = {
    TopicTypeCode.BINARY: "binary",
    TopicTypeCode.JSON: "json",
    TopicTypeCode.STRING: "string",
    TopicTypeCode.INT64: "int64",
    TopicTypeCode.DOUBLE: "double",
}

_NULLABLE = frozenset({TopicTypeCode.STRING, TopicTypeCode.INT64, TopicTypeCode.DOUBLE})
_RESERVED_ROOT = "Diffusion"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class InvalidTopicPath(ValueError):
    """The path cannot name a topic (empty part, reserved branch...)."""


class InvalidValue(ValueError):
    """The value bytes are not a valid value of the topic's type."""


def type_name(type_code: int) -> str:
    return SUPPORTED_TYPES.get(type_code, f"type-{type_code}")


def canonical_path(path: str) -> str:
    """Validate a topic path for add/set and return its canonical form.

    One leading and one trailing ``/`` are dropped, as in selectors (an assumption: the
    Diffusion docs use ``/foo/baz`` and ``foo/baz`` interchangeably). What remains must have
    no empty segment and must not lie under the reserved ``Diffusion`` branch.
    """
    canonical = path[1:] if path.startswith("/") else path
    canonical = canonical[:-1] if canonical.endswith("/") else canonical
    if not canonical:
        raise InvalidTopicPath(f"Topic path {path!r} is empty")
    segments = canonical.split("/")
    if "" in segments:
        raise InvalidTopicPath(f"Topic path {path!r} contains an empty part")
    if segments[0] == _RESERVED_ROOT:
        raise InvalidTopicPath(f"Topic path {path!r} is in the reserved 'Diffusion' branch")
    return canonical


def _cbor_item(value: bytes) -> object:
    """Decode exactly one CBOR data item; trailing bytes make the value invalid."""
    stream = io.BytesIO(value)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, EOFError) as exc:
        raise InvalidValue(f"value is not valid CBOR: {exc}") from exc
    if stream.tell() != len(value):
        raise InvalidValue("value has bytes after its CBOR data item")
    return item


def validate_value(type_code: int, value: bytes) -> object:
    """Check ``value`` against the topic type and return the decoded value.

    Raises InvalidValue. Binary values are returned unchanged; anything is valid binary.
    """
    if type_code == TopicTypeCode.BINARY:
        return bytes(value)
    item = _cbor_item(value)
    if type_code == TopicTypeCode.JSON:
        return item
    if item is None:
        return None  # checked as nullable by the caller when it matters
    if type_code == TopicTypeCode.STRING and not isinstance(item, str):
        raise InvalidValue(f"string topic value must be a CBOR text string, got {type(item).__name__}")
    if type_code == TopicTypeCode.INT64:
        if isinstance(item, bool) or not isinstance(item, int) or not _INT64_MIN <= item <= _INT64_MAX:
            raise InvalidValue(f"int64 topic value must be a 64-bit CBOR integer, got {item!r}")
    if type_code == TopicTypeCode.DOUBLE:
        # Other clients may send integral doubles as CBOR integers; accept them as a server would.
        if isinstance(item, bool) or not isinstance(item, int | float):
            raise InvalidValue(f"double topic value must be a CBOR number, got {type(item).__name__}")
    return item


def decode_value(type_code: int, value: bytes | None) -> object:
    """Decoded form of stored bytes (None when the topic has no value)."""
    if value is None:
        return None
    if type_code == TopicTypeCode.BINARY:
        return bytes(value)
    item = _cbor_item(value)
    if type_code == TopicTypeCode.DOUBLE and isinstance(item, int):
        return float(item)
    return item


def _is_true(properties: Mapping[str, str], key: str) -> bool:
    # The SDK sends Python-style "True"/"False"; other clients send "true"/"false".
    return properties.get(key, "").strip().lower() == "true"


@dataclass
class Topic:
    """One topic: its specification and the last value it retains (None when it has none)."""

    path: str
    type_code: int
    properties: dict[str, str] = field(default_factory=dict)
    value: bytes | None = None
    #: Server-wide id, set by the tree; update stream ids name the topic by it.
    uid: int = 0
    #: The one update stream allowed to update the topic, as ``(session id, instance)``; any
    #: other update (a set, another stream, a new stream) invalidates it.
    update_stream: tuple[str, int] | None = None

    @property
    def type_name(self) -> str:
        return type_name(self.type_code)

    @property
    def retains_value(self) -> bool:
        return not _is_true(self.properties, "DONT_RETAIN_VALUE")

    @property
    def supports_conflation(self) -> bool:
        """Whether the server may conflate updates (``CONFLATION`` other than ``off``; on by default)."""
        return self.properties.get("CONFLATION", "").strip().lower() != "off"

    @property
    def nullable(self) -> bool:
        return self.type_code in _NULLABLE

    def same_specification(self, type_code: int, properties: Mapping[str, str]) -> bool:
        return self.type_code == type_code and _normalised(self.properties) == _normalised(properties)

    def decoded(self) -> object:
        return decode_value(self.type_code, self.value)


def _normalised(properties: Mapping[str, str]) -> dict[str, str]:
    # Boolean properties compare case-insensitively ("True" from Python equals "true" from Java).
    return {k: v.lower() if v.lower() in ("true", "false") else v for k, v in properties.items()}


class TopicTree:
    """All topics of one emulator, by canonical path."""

    def __init__(self) -> None:
        self._topics: dict[str, Topic] = {}
        self._by_uid: dict[int, Topic] = {}
        self._uids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._topics)

    def __iter__(self) -> Iterator[Topic]:
        return iter(list(self._topics.values()))

    def get(self, path: str) -> Topic | None:
        return self._topics.get(path)

    def by_uid(self, uid: int) -> Topic | None:
        return self._by_uid.get(uid)

    def add(self, topic: Topic) -> None:
        topic.uid = next(self._uids)
        self._topics[topic.path] = topic
        self._by_uid[topic.uid] = topic

    def remove(self, path: str) -> Topic | None:
        topic = self._topics.pop(path, None)
        if topic is not None:
            self._by_uid.pop(topic.uid, None)
        return topic

    def paths(self) -> list[str]:
        return sorted(self._topics)
