"""Topic selector parsing and matching, as the Diffusion server evaluates selectors.

The first character picks the selector type:

========  =====================  ==========================================================
prefix    type                   matches
========  =====================  ==========================================================
``>``     path                   exactly that path
``?``     split-path pattern     one regex per path segment, each matching the whole segment
``*``     full-path pattern      one regex matching the whole path
``#``     selector set           any member; members are joined by ``////``, sets flatten
``$%&<``  reserved               rejected
other     abbreviated path       as if ``>`` had been prepended
========  =====================  ==========================================================

A trailing ``//`` selects the matches *and* their descendants, a trailing ``/`` only the
descendants. For split-path patterns the segment count decides: ``?a/b`` needs exactly two
segments, ``?a/b/`` more than two, ``?a/b//`` at least two; only the first two are tested. So
``?source/kafka/.*`` matches ``source/kafka/x`` but never ``kafka/price`` nor
``source/kafka/x/y``.

Regexes are Java-flavoured on a real server; Python's ``re`` agrees for everything a selector
normally uses. Java's ``\\Q...\\E`` literal quoting is translated, since Python lacks it.

One leading ``/`` is dropped from path and pattern bodies, as the SDK does on its side, so
``>/a/b`` is ``>a/b``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

__all__ = [
    "Qualifier",
    "Selector",
    "SelectorError",
    "parse_selector",
]

SET_SEPARATOR = "////"
_RESERVED_PREFIXES = "$%&<"


class SelectorError(ValueError):
    """The selector expression is not valid."""


class Qualifier(enum.Enum):
    """What a pattern selects relative to the topics its base expression matches."""

    MATCH = ""
    DESCENDANTS = "/"
    MATCH_AND_DESCENDANTS = "//"


@dataclass(frozen=True)
class Selector:
    """A parsed selector; ``matches(path)`` answers whether it selects the topic at path.

    ``expression`` is the text the client sent, which is also the identity the server uses
    to replace an earlier subscription or unsubscription with the same selector.
    """

    expression: str
    kind: str  # "path" | "split" | "full" | "set"
    base: str = ""
    qualifier: Qualifier = Qualifier.MATCH
    members: tuple[Selector, ...] = ()
    _patterns: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def matches(self, path: str) -> bool:
        if self.kind == "set":
            return any(member.matches(path) for member in self.members)
        if self.kind == "path":
            return _match_path(self.base, self.qualifier, path)
        if self.kind == "split":
            return _match_split(self._patterns, self.qualifier, path)
        return self._patterns[0].fullmatch(path) is not None

    def __str__(self) -> str:
        return self.expression


def parse_selector(expression: str) -> Selector:
    """Parse a selector expression; raises SelectorError with the reason when it is invalid."""
    if not isinstance(expression, str) or not expression:
        raise SelectorError("Empty topic selector")
    prefix, body = expression[0], expression[1:]
    if prefix == "#":
        members = _flatten(body)
        return Selector(expression, "set", members=tuple(members))
    if prefix in _RESERVED_PREFIXES:
        raise SelectorError(f"Invalid expression type '{prefix}' in selector {expression!r}")
    if prefix == ">":
        return _parse_path(expression, body)
    if prefix == "?":
        return _parse_split(expression, body)
    if prefix == "*":
        return _parse_full(expression, body)
    # Abbreviated path selector: anything else is a path, as if ">" had been prepended.
    return _parse_path(expression, expression)


# --- per type ----------------------------------------------------------------------------------


def _split_qualifier(body: str) -> tuple[str, Qualifier]:
    if body.startswith("/"):
        body = body[1:]
    if body.endswith("//"):
        return body[:-2], Qualifier.MATCH_AND_DESCENDANTS
    if body.endswith("/"):
        return body[:-1], Qualifier.DESCENDANTS
    return body, Qualifier.MATCH


def _parse_path(expression: str, body: str) -> Selector:
    base, qualifier = _split_qualifier(body)
    if not base:
        raise SelectorError(f"Topic path must have at least one part: {expression!r}")
    if "" in base.split("/"):
        raise SelectorError(f"Topic path contains empty part: {expression!r}")
    return Selector(expression, "path", base=base, qualifier=qualifier)


def _parse_split(expression: str, body: str) -> Selector:
    base, qualifier = _split_qualifier(body)
    if not base:
        raise SelectorError(f"Empty split-path pattern: {expression!r}")
    parts = base.split("/")
    if "" in parts:
        raise SelectorError(f"Split-path pattern contains empty part: {expression!r}")
    patterns = tuple(_compile(part, expression) for part in parts)
    return Selector(expression, "split", base=base, qualifier=qualifier, _patterns=patterns)


def _parse_full(expression: str, body: str) -> Selector:
    base, qualifier = _split_qualifier(body)
    if not base:
        raise SelectorError(f"Empty full-path pattern: {expression!r}")
    if SET_SEPARATOR in base:
        raise SelectorError(f"Full-path pattern cannot contain '////': {expression!r}")
    regex = _java_regex(base)
    # Qualifiers become part of the regex; the base is grouped so alternations stay inside.
    if qualifier is Qualifier.DESCENDANTS:
        regex = f"(?:{regex})/.+"
    elif qualifier is Qualifier.MATCH_AND_DESCENDANTS:
        regex = f"(?:{regex})(?:/.+)?"
    return Selector(expression, "full", base=base, qualifier=qualifier, _patterns=(_compile_raw(regex, expression),))


def _flatten(body: str) -> list[Selector]:
    if not body:
        raise SelectorError("Empty selector set")
    members: list[Selector] = []
    for text in body.split(SET_SEPARATOR):
        member = parse_selector(text)
        # Nested sets are flattened, as the server does.
        members.extend(member.members if member.kind == "set" else (member,))
    return members


# --- matching ----------------------------------------------------------------------------------


def _match_path(base: str, qualifier: Qualifier, path: str) -> bool:
    if qualifier is Qualifier.MATCH:
        return path == base
    is_descendant = path.startswith(base + "/")
    if qualifier is Qualifier.DESCENDANTS:
        return is_descendant
    return is_descendant or path == base


def _match_split(patterns: tuple[re.Pattern[str], ...], qualifier: Qualifier, path: str) -> bool:
    segments = path.split("/")
    n = len(patterns)
    if qualifier is Qualifier.MATCH and len(segments) != n:
        return False
    if qualifier is Qualifier.DESCENDANTS and len(segments) <= n:
        return False
    if qualifier is Qualifier.MATCH_AND_DESCENDANTS and len(segments) < n:
        return False
    # Only the first n segments are tested; descendants beyond them may be anything.
    return all(p.fullmatch(s) is not None for p, s in zip(patterns, segments, strict=False))


# --- regex helpers -----------------------------------------------------------------------------


def _java_regex(text: str) -> str:
    r"""Translate Java's ``\Q...\E`` literal quoting (absent in Python's re) into escapes."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\Q", i):
            end = text.find("\\E", i + 2)
            literal = text[i + 2 :] if end < 0 else text[i + 2 : end]
            out.append(re.escape(literal))
            i = len(text) if end < 0 else end + 2
        elif text[i] == "\\" and i + 1 < len(text):
            out.append(text[i : i + 2])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _compile(part: str, expression: str) -> re.Pattern[str]:
    return _compile_raw(_java_regex(part), expression)


def _compile_raw(regex: str, expression: str) -> re.Pattern[str]:
    try:
        return re.compile(regex)
    except re.error as exc:
        raise SelectorError(f"Invalid regular expression in selector {expression!r}: {exc}") from exc
