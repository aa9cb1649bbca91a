"""Topic selector grammar and matching, as the emulator evaluates SUBSCRIBE/UNSUBSCRIBE/REMOVE."""

from __future__ import annotations

import pytest
from diffusion.features.topics.selectors import get_selector

from streamapp.devstack.diffusion_emulator import SelectorError, parse_selector
from streamapp.devstack.diffusion_emulator.selectors import Qualifier

AB = "alpha/beta"
ABG = "alpha/beta/gamma"


@pytest.mark.parametrize(
    ("selector", "matches_ab", "matches_abg"),
    [
        # Reference section 6.1, doc example table (alpha/beta vs alpha/beta/gamma).
        ("?alpha/beta/", False, True),
        ("?alpha/beta//", True, True),
        ("?alpha/.*//", True, True),
        ("?.*", False, False),
        ("*.*beta", True, False),
        ("*alpha/beta/", False, True),
        # Path selectors, explicit and abbreviated, with the descendant qualifiers.
        (">alpha/beta", True, False),
        ("alpha/beta", True, False),
        (">alpha/beta//", True, True),
        (">alpha/beta/", False, True),
        ("alpha/beta//", True, True),
        (">/alpha/beta", True, False),
        # Split-path: one regex per segment, segment count decides.
        ("?alpha/beta", True, False),
        ("?alpha/.*", True, False),
        ("?.*/.*/.*", False, True),
        ("?al.*a/b.*", True, False),
        ("?alph/beta", False, False),  # parts must match the whole segment
        # Full-path: one regex over the whole path.
        ("*.*", True, True),
        ("*alpha/.*", True, True),
        ("*alpha/beta", True, False),
        ("*alpha/beta//", True, True),
        ("*alpha", False, False),
        ("*alph", False, False),
        ("*alpha/bet", False, False),
        # Selector sets: any member.
        ("#>alpha/beta////?alpha/beta/gamma", True, True),
        ("#>nothing////*alpha/beta/.*", False, True),
        ("#>nothing////#>alpha/beta", True, False),  # nested sets flatten
    ],
)
def test_reference_tables(selector: str, matches_ab: bool, matches_abg: bool) -> None:
    parsed = parse_selector(selector)
    assert parsed.matches(AB) is matches_ab
    assert parsed.matches(ABG) is matches_abg


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("source/kafka/price", True),
        ("source/kafka/x", True),
        ("kafka/price", False),  # the pitfall: the selector needs three segments
        ("source/kafka", False),
        ("source/kafka/price/extra", False),
        ("other/kafka/price", False),
    ],
)
def test_split_path_pitfall_source_kafka(path: str, expected: bool) -> None:
    assert parse_selector("?source/kafka/.*").matches(path) is expected


def test_kafka_subtree_selector_matches_kafka_price() -> None:
    assert parse_selector("?kafka/.*").matches("kafka/price")
    assert parse_selector("?kafka//").matches("kafka/price")


@pytest.mark.parametrize(
    ("selector", "path", "expected"),
    [
        # Descendant qualifiers never match a sibling that merely shares a prefix.
        (">a//", "ab", False),
        (">a//", "a", True),
        (">a//", "a/b/c", True),
        (">a/", "a", False),
        ("*a//", "ab", False),
        ("*a//", "a/b", True),
        ("*a/", "a/b/c", True),
        ("?a/", "a", False),
        ("?a/", "a/b", True),
        ("?a//", "a", True),
        # Split-path with descendants tests only the first n segments.
        ("?a/b.*/", "a/bc/anything/else", True),
        ("?a/b.*/", "a/xc/anything", False),
        # The full-path qualifier groups alternations inside the base.
        ("*a|b/", "b/x", True),
        ("*a|b/", "a", False),
        ("*a|b//", "a", True),
        # Java's \Q...\E literal quoting.
        (r"*\Qa.b\E/.*", "a.b/x", True),
        (r"*\Qa.b\E/.*", "axb/x", False),
        (r"?\Qa.b\E", "a.b", True),
        (r"?\Qa.b\E", "aXb", False),
        (r"*\Q(x)\E", "(x)", True),
        # Regex classes and escapes behave as in Java.
        (r"?\d+", "123", True),
        (r"?\d+", "12a", False),
        ("?[a-c]/x", "b/x", True),
        ("?[a-c]/x", "d/x", False),
        # Unicode segments.
        ("?prix/€.*", "prix/€uro", True),
        (">prix/€uro", "prix/€uro", True),
    ],
)
def test_matching_cases(selector: str, path: str, expected: bool) -> None:
    assert parse_selector(selector).matches(path) is expected


@pytest.mark.parametrize(
    ("selector", "kind", "qualifier", "base"),
    [
        (">a/b", "path", Qualifier.MATCH, "a/b"),
        ("a/b", "path", Qualifier.MATCH, "a/b"),
        ("a/b/", "path", Qualifier.DESCENDANTS, "a/b"),
        (">a/b//", "path", Qualifier.MATCH_AND_DESCENDANTS, "a/b"),
        ("?a/.*//", "split", Qualifier.MATCH_AND_DESCENDANTS, "a/.*"),
        ("*a.*/", "full", Qualifier.DESCENDANTS, "a.*"),
    ],
)
def test_parse_structure(selector: str, kind: str, qualifier: Qualifier, base: str) -> None:
    parsed = parse_selector(selector)
    assert (parsed.kind, parsed.qualifier, parsed.base, parsed.expression) == (kind, qualifier, base, selector)


def test_selector_set_members_are_flattened() -> None:
    parsed = parse_selector("#>a////#?b/.*////*c")
    assert parsed.kind == "set"
    assert [m.expression for m in parsed.members] == [">a", "?b/.*", "*c"]


@pytest.mark.parametrize(
    ("selector", "reason"),
    [
        ("", "Empty"),
        (">", "at least one part"),
        (">/", "at least one part"),
        (">a//b", "empty part"),
        ("a//b", "empty part"),
        (">a///", "empty part"),
        ("$a", "Invalid expression type"),
        ("%a", "Invalid expression type"),
        ("&a", "Invalid expression type"),
        ("<a", "Invalid expression type"),
        ("?", "Empty split-path"),
        ("?a//b", "empty part"),
        ("?a/(", "Invalid regular expression"),
        ("*", "Empty full-path"),
        ("*(", "Invalid regular expression"),
        ("*a////b", "////"),
        ("#", "Empty selector set"),
        ("#>a////$b", "Invalid expression type"),
    ],
)
def test_invalid_selectors_are_rejected_with_a_reason(selector: str, reason: str) -> None:
    with pytest.raises(SelectorError, match=reason):
        parse_selector(selector)


@pytest.mark.parametrize("selector", ["?a/b", "?a/.*", "?.*/b/", "?a//", "?[ab]/c.*//", "*a/.*", "*.*b"])
@pytest.mark.parametrize("path", ["a", "a/b", "a/bc", "b/b", "a/b/c", "x/y/z/w", "ab"])
def test_split_and_plain_full_path_patterns_agree_with_the_sdk_client_matcher(selector: str, path: str) -> None:
    # The SDK routes values to value streams with its own matcher. For these forms the server
    # (emulator) and the client agree, so a stream on the subscription selector sees every topic.
    assert parse_selector(selector).matches(path) is get_selector(selector).match(path)


def test_sdk_client_matcher_ignores_path_qualifiers_unlike_the_server() -> None:
    # Worth knowing when registering value streams: the SDK strips the slashes of ">a//", so a
    # stream registered on it only sees topic "a", although the server delivers "a/b" too.
    assert parse_selector(">a//").matches("a/b")
    assert not get_selector(">a//").match("a/b")
