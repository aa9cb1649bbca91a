"""diffusion.destination patterns: parse once, render a valid Diffusion topic path per record."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from streamapp.data import (
    BYTES_SCHEMA,
    INT32_SCHEMA,
    OPTIONAL_STRING_SCHEMA,
    STRING_SCHEMA,
    Record,
    RecordError,
    Schema,
    Struct,
    Type,
    decimal_schema,
    map_schema,
    struct_schema,
)
from streamapp.diffusion.destinations import DestinationPattern, PathError, validate_topic_path


def record(**changes: object) -> Record:
    base = Record(
        topic="bar",
        partition=3,
        offset=42,
        timestamp=1700000000000,
        key="baz",
        key_schema=OPTIONAL_STRING_SCHEMA,
        value={"price": 1.5},
        value_schema=None,
    )
    return base._replace(**changes)


def render(pattern: str, **changes: object) -> str:
    return DestinationPattern.parse(pattern).render(record(**changes))


# The seed's "Examples - Sink Connector" table, verbatim: "Assuming a SinkRecord with a topic of
# "bar", a key of "baz", a key schema version of "1.2" and a value schema version of 3.1".
# (Connect versions are integers; the seed's are not, and render with str() all the same.)
SEED_RECORD = record(
    key="baz",
    key_schema=Schema(Type.STRING, version="1.2"),  # type: ignore[arg-type]
    value_schema=Schema(Type.STRING, version=3.1),  # type: ignore[arg-type]
)


@pytest.mark.parametrize(
    "pattern, result",
    [
        ("foo", "foo"),
        ("foo/${topic}", "foo/bar"),
        ("foo/${topic}/${key.version}", "foo/bar/1.2"),
        ("foo/${value.version}/${topic}", "foo/3.1/bar"),
    ],
)
def test_seed_sink_examples_table(pattern, result):
    assert DestinationPattern.parse(pattern).render(SEED_RECORD) == result


@pytest.mark.parametrize(
    "pattern, result",
    [
        ("kafka/${topic}", "kafka/bar"),  # the seed's REST sample
        ("kafka/${topic}/${key}", "kafka/bar/baz"),  # the seed's Confluent Cloud sample
        ("${topic}", "bar"),
        ("${key}", "baz"),
        ("p/${partition}/o/${offset}", "p/3/o/42"),
        ("${topic}-${partition}@${offset}", "bar-3@42"),
        ("${topic}/${topic}/${key}${key}", "bar/bar/bazbaz"),  # repeated tokens are all replaced
        ("prices $ {x} ${topic}", "prices $ {x} bar"),  # '$' and '{' alone are literal
        ("a b/é ü/€", "a b/é ü/€"),  # any Unicode but '/' is allowed in a segment
        ("/kafka/${topic}", "kafka/bar"),  # one leading '/' is dropped, as Diffusion canonicalises
        ("Diffusionist/${topic}", "Diffusionist/bar"),  # only the exact segment is reserved
    ],
)
def test_render(pattern, result):
    assert render(pattern) == result


def test_versions_render_from_connect_integer_versions():
    assert (
        render(
            "${key.version}/${value.version}",
            key_schema=Schema(Type.STRING, version=1),
            value_schema=Schema(Type.INT32, version=12),
        )
        == "1/12"
    )


def test_value_version_resolves_for_null_keys_unlike_java():
    assert render("${topic}/${value.version}", key=None, value_schema=Schema(Type.INT32, version=7)) == "bar/7"


PERSON = struct_schema([("id", INT32_SCHEMA), ("region", STRING_SCHEMA)], name="Key")


@pytest.mark.parametrize(
    "key, key_schema, text",
    [
        (42, INT32_SCHEMA, "42"),
        (-7, None, "-7"),
        (True, None, "true"),
        (1.5, None, "1.5"),
        (decimal.Decimal("12.30"), decimal_schema(2), "12.30"),
        (dt.date(2024, 1, 31), None, "2024-01-31"),
        (Struct(PERSON, {"id": 1, "region": "eu"}), PERSON, '{"id":1,"region":"eu"}'),
        ({"b": 1, "a": [True, None]}, None, '{"b":1,"a":[true,null]}'),
        ({"k": "v"}, map_schema(STRING_SCHEMA, STRING_SCHEMA), '{"k":"v"}'),
        ({1: "a"}, None, '[[1,"a"]]'),  # keys that are not text: [key, value] pairs, as Connect writes them
        ([1, "x"], None, '[1,"x"]'),
        (b"sensor-7", BYTES_SCHEMA, "sensor-7"),  # ByteArrayConverter keys: their UTF-8 text
        ("é €", STRING_SCHEMA, "é €"),
    ],
)
def test_non_string_keys_render_as_compact_json_text(key, key_schema, text):
    assert render("k/${key}", key=key, key_schema=key_schema) == f"k/{text}"


def test_a_slash_in_the_key_adds_levels_like_the_java_connector():
    assert render("kafka/${key}", key="eu/paris") == "kafka/eu/paris"


def test_parse_records_tokens_and_constness():
    pattern = DestinationPattern.parse("a/${topic}/${key}/${topic}")
    assert pattern.tokens == {"topic", "key"} and not pattern.is_constant
    assert DestinationPattern.parse("fixed/path").is_constant
    assert (
        str(pattern) == "a/${topic}/${key}/${topic}"
        and repr(pattern) == "DestinationPattern('a/${topic}/${key}/${topic}')"
    )


# ----------------------------------------------------------------------------- parse errors


@pytest.mark.parametrize(
    "pattern, message",
    [
        (
            "kafka/${foo}",
            "unknown token '${foo}' at position 6 in 'kafka/${foo}'; allowed tokens: ${topic}, ${key}, "
            "${key.version}, ${value.version}, ${partition}, ${offset}",
        ),
        ("/a/${Topic}", "unknown token '${Topic}' at position 3 in '/a/${Topic}'"),
        ("${}", "unknown token '${}' at position 0"),
        ("${key.name}", "unknown token '${key.name}' at position 0"),
        ("a/${topic", "unterminated token '${topic' at position 2 in 'a/${topic'; tokens are written ${name}"),
        ("", "the destination pattern is empty"),
        (
            "a//${topic}",
            "'a//${topic}' can never give a valid Diffusion topic path: the path has an empty segment ('//')",
        ),
        ("${topic}/", "the path ends with '/' (an empty last segment)"),
        ("//${topic}", "the path starts with '/' (an empty first segment)"),
        ("/", "the path is empty"),
        ("Diffusion/${topic}", "paths under 'Diffusion/' are reserved for the Diffusion server"),
        ("/Diffusion", "paths under 'Diffusion/' are reserved"),
    ],
)
def test_parse_errors_name_the_problem(pattern, message):
    with pytest.raises(ValueError) as caught:
        DestinationPattern.parse(pattern)
    assert message in str(caught.value)
    assert not isinstance(caught.value, PathError)  # a config error at startup, not a record error


# ----------------------------------------------------------------------------- render errors

WHERE = "diffusion.destination '{pattern}' for the record at topic 'bar' partition 3 offset 42: "


@pytest.mark.parametrize(
    "pattern, changes, token, reason",
    [
        ("kafka/${key}", {"key": None}, "key", "${key} needs a record key, but the key is null"),
        (
            "${key.version}",
            {"key_schema": None},
            "key.version",
            "${key.version} needs the key schema's version, but the record has no key schema (its key.converter gives none)",
        ),
        (
            "${key.version}",
            {"key_schema": STRING_SCHEMA},
            "key.version",
            "${key.version} needs the key schema's version, but the key schema has no version",
        ),
        (
            "${value.version}",
            {},
            "value.version",
            "${value.version} needs the value schema's version, but the record has no value schema",
        ),
        (
            "${value.version}",
            {"value_schema": INT32_SCHEMA},
            "value.version",
            "${value.version} needs the value schema's version, but the value schema has no version",
        ),
        (
            "k/${key}",
            {"key": b"\xff\xfe", "key_schema": BYTES_SCHEMA},
            "key",
            "${key} cannot render the key: bytes are not UTF-8 text (invalid byte at 0)",
        ),
    ],
)
def test_missing_token_values_are_record_errors_naming_token_and_record(pattern, changes, token, reason):
    with pytest.raises(PathError) as caught:
        render(pattern, **changes)
    assert str(caught.value).startswith(WHERE.format(pattern=pattern) + reason)
    assert caught.value.token == token
    assert isinstance(caught.value, RecordError)


@pytest.mark.parametrize(
    "pattern, changes, reason",
    [
        ("kafka/${key}", {"key": ""}, "the path ends with '/' (an empty last segment): 'kafka/' (${key}='')"),
        ("${key}/x", {"key": "/a"}, "the path starts with '/' (an empty first segment): '/a/x' (${key}='/a')"),
        ("x/${key}", {"key": "a//b"}, "the path has an empty segment ('//'): 'x/a//b' (${key}='a//b')"),
        ("${key}", {"key": ""}, "the path is empty: '' (${key}='')"),
        (
            "x/${key}",
            {"key": "ctl\x00\x01\x1b\n\t"},
            "the path has a control character, U+0000, at position 5: no subscriber could select it: "
            "'x/ctl\\x00\\x01\\x1b\\n\\t' (${key}='ctl\\x00\\x01\\x1b\\n\\t')",
        ),
        (
            "${topic}/${key}",
            {"topic": "Diffusion"},
            "paths under 'Diffusion/' are reserved for the Diffusion server: 'Diffusion/baz' (${topic}='Diffusion', ${key}='baz')",
        ),
    ],
)
def test_rendered_paths_breaking_diffusion_rules_are_record_errors(pattern, changes, reason):
    with pytest.raises(PathError) as caught:
        render(pattern, **changes)
    where = WHERE.format(pattern=pattern).replace("topic 'bar'", f"topic '{changes.get('topic', 'bar')}'")
    assert str(caught.value) == where + reason
    assert caught.value.token is None and caught.value.path is not None


def test_long_keys_are_quoted_briefly_in_messages():
    with pytest.raises(PathError) as caught:
        render("x/${key}", key="k" * 5000 + "//")
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    "path, problem",
    [
        ("a", None),
        ("a/b/c", None),
        ("Diffusion2/x", None),
        ("", "the path is empty"),
        ("/a", "the path starts with '/' (an empty first segment)"),
        ("a/", "the path ends with '/' (an empty last segment)"),
        ("a//b", "the path has an empty segment ('//')"),
        ("Diffusion", "paths under 'Diffusion/' are reserved for the Diffusion server"),
        ("prices/EUR USD/é", None),  # any Unicode but '/', per Diffusion's path rules
        ("ctl\x00\x01", "the path has a control character, U+0000, at position 3: no subscriber could select it"),
        ("a/\tb", "the path has a control character, U+0009, at position 2: no subscriber could select it"),
        ("a\x1b[0m", "the path has a control character, U+001B, at position 1: no subscriber could select it"),
        ("a\x7f", "the path has a control character, U+007F, at position 1: no subscriber could select it"),
        ("a\x85b", "the path has a control character, U+0085, at position 1: no subscriber could select it"),
        ("a\ud800", "the path has a lone surrogate (not UTF-8), U+D800, at position 1: no subscriber could select it"),
    ],
)
def test_validate_topic_path(path, problem):
    assert validate_topic_path(path) == problem
