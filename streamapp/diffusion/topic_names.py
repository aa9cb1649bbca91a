"""Kafka topic names from the source's ``kafka.topic`` pattern and a Diffusion topic path.

``${topic}`` is replaced by the Diffusion path; then every character outside Kafka's legal set
``[a-zA-Z0-9._-]`` becomes ``_`` (so ``/`` becomes ``_``, as in the Java connector, and also
spaces, ``$``, non-ASCII text...). The seed promised this; the Java code only replaced ``/``.
The literal part of the pattern is sanitised the same way (the Java connector also turned its
``/`` into ``_``), so a pattern that runs there gives the same names here.

A name longer than 249 characters, or equal to ``.`` or ``..``, cannot be a Kafka topic:
:class:`TopicNameError` is raised for that Diffusion path only (the connector skips and counts it).
Different paths can map to one name (``a_b/c`` and ``a/b_c`` both give ``a_b_c``); that is
allowed, their records are told apart by their key (the Diffusion path).
"""

from __future__ import annotations

import re

from streamapp.data import RecordError

__all__ = ["MAX_TOPIC_LENGTH", "KafkaTopicPattern", "TopicNameError", "sanitise"]

MAX_TOPIC_LENGTH = 249
TOKEN = "${topic}"
_ILLEGAL = re.compile(r"[^a-zA-Z0-9._-]")


class TopicNameError(RecordError):
    """The Kafka topic name rendered for one Diffusion path is not a legal Kafka topic name."""


def sanitise(text: str) -> str:
    """Every character outside ``[a-zA-Z0-9._-]`` (``/`` included) replaced by ``_``."""
    return _ILLEGAL.sub("_", text)


def check(name: str, path: str = "") -> str:
    where = f" for Diffusion topic '{path}'" if path else ""
    if not name:
        raise TopicNameError(f"the Kafka topic name{where} is empty")
    if name in (".", ".."):
        raise TopicNameError(f"the Kafka topic name{where} would be '{name}', which Kafka does not allow")
    if len(name) > MAX_TOPIC_LENGTH:
        raise TopicNameError(
            f"the Kafka topic name{where} would be {len(name)} characters long; Kafka allows at most "
            f"{MAX_TOPIC_LENGTH} ('{name[:60]}...')"
        )
    return name


class KafkaTopicPattern:
    """A ``kafka.topic`` value; :meth:`render` gives the Kafka topic of a Diffusion path (cached)."""

    def __init__(self, pattern: str, cache_size: int = 100_000) -> None:
        self.pattern = pattern
        self.dynamic = TOKEN in pattern
        self._parts = [sanitise(part) for part in pattern.split(TOKEN)]
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size
        if not self.dynamic:
            self._static = sanitise(pattern)

    def render(self, path: str) -> str:
        if not self.dynamic:
            return check(self._static, path)
        name = self._cache.get(path)
        if name is None:
            name = check(sanitise(path).join(self._parts), path)
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[path] = name
        return name

    def validate_static(self) -> None:
        """For a pattern without ``${topic}``: raise now if its one name is illegal."""
        if not self.dynamic:
            check(self._static)

    def __repr__(self) -> str:
        return f"KafkaTopicPattern({self.pattern!r})"
