"""CoAP sink config checks at load time: KCQL syntax (with positions), KCQL/topics agreement,
DTLS keys, the keys beyond the seed; and the same errors through ``streamapp check-config``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from streamapp.config.loader import load_connectors

ROOT = Path(__file__).resolve().parents[2]
STREAMAPP = str(Path(sys.executable).with_name("streamapp"))


def base(**overrides: str) -> dict:
    return {
        "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
        "connect.coap.uri": "coap://127.0.0.1:5683",
        "connect.coap.kcql": "INSERT INTO r SELECT * FROM t",
        "topics": "t",
        **overrides,
    }


def load(tmp_path: Path, config: dict):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "c", "config": config}))
    connectors, errors = load_connectors([path])
    return connectors, [(e.key, e.detail) for e in errors]


def test_the_seed_properties_load_with_defaults(tmp_path):
    connectors, errors = load_connectors([ROOT / "settings/connectors/coap-sink.properties"])
    assert errors == []
    config = connectors[0].config
    assert (config.error_policy, config.max_retries, config.retry_interval) == ("THROW", 20, 60000)
    assert (config.method, config.confirmable, config.request_timeout_ms) == ("PUT", True, 10000)
    assert (config.max_in_flight, config.ordering, config.progress_interval_ms) == (32, "resource", 60000)
    assert [(s.target, s.source) for s in config.statements()] == [("unsecure", "coap_topic")]
    assert connectors[0].implemented


def test_options_beyond_the_seed(tmp_path):
    connectors, errors = load(
        tmp_path,
        base(
            **{
                "connect.coap.method": "post",
                "connect.coap.confirmable": "false",
                "connect.coap.request.timeout.ms": "500",
                "connect.coap.max.in.flight": "8",
                "connect.coap.ordering": "PARTITION",
                "connect.coap.error.policy": "retry",
                "connect.progress.enabled": "true",
                "connect.progress.interval.ms": "1000",
            }
        ),
    )
    assert errors == []
    c = connectors[0].config
    assert (c.method, c.confirmable, c.request_timeout_ms, c.max_in_flight, c.ordering, c.error_policy) == (
        "POST",
        False,
        500,
        8,
        "partition",
        "RETRY",
    )


def test_kcql_syntax_error_has_line_column_and_caret(tmp_path):
    _, errors = load(tmp_path, base(**{"connect.coap.kcql": "INSERT INTO r SELECT a AS FROM t"}))
    [(key, detail)] = errors
    assert key == "connect.coap.kcql"
    assert detail.splitlines() == [
        (
            "KCQL syntax error at line 1, column 27 (character 27): expected an alias after 'a AS', got 'FROM' "
            "(write `FROM` for an alias of that name)"
        ),
        "  INSERT INTO r SELECT a AS FROM t",
        "                            ^",
    ]


@pytest.mark.parametrize(
    "kcql,topics,message",
    [
        (
            "INSERT INTO r SELECT * FROM u",
            "t",
            (
                "KCQL reads topic 'u', not listed in 'topics'; 'topics' lists topic 't', "
                "which no KCQL statement reads (FROM)"
            ),
        ),
        ("INSERT INTO r SELECT * FROM t", "t,u", "'topics' lists topic 'u', which no KCQL statement reads"),
        (
            "INSERT INTO r SELECT * FROM t; INSERT INTO s SELECT * FROM v; INSERT INTO x SELECT * FROM w",
            "t",
            "KCQL reads topics 'v', 'w', not listed in 'topics'",
        ),
    ],
)
def test_kcql_topics_and_connect_topics_must_agree(tmp_path, kcql, topics, message):
    _, errors = load(tmp_path, base(**{"connect.coap.kcql": kcql, "topics": topics}))
    [(key, detail)] = errors
    assert key == "connect.coap.kcql" and message in detail


def test_one_topic_may_feed_several_resources(tmp_path):
    connectors, errors = load(
        tmp_path, base(**{"connect.coap.kcql": "INSERT INTO a SELECT * FROM t; INSERT INTO b/c SELECT x FROM t"})
    )
    assert errors == [] and [s.target for s in connectors[0].config.statements()] == ["a", "b/c"]


def test_a_topic_sent_twice_to_one_resource_is_an_error(tmp_path):
    _, errors = load(
        tmp_path,
        base(
            **{
                "connect.coap.kcql": "INSERT INTO a SELECT * FROM t; INSERT INTO b SELECT * FROM t; INSERT INTO a SELECT x FROM t"
            }
        ),
    )
    assert errors == [
        (
            "connect.coap.kcql",
            (
                "statements 1 and 3 both send topic 't' to resource 'a': every record "
                "would be written there twice; keep one"
            ),
        )
    ]


def test_topics_regex_must_match_every_kcql_source(tmp_path):
    config = base(**{"connect.coap.kcql": "INSERT INTO a SELECT * FROM sensors_1; INSERT INTO b SELECT * FROM other"})
    del config["topics"]
    config["topics.regex"] = "sensors_.*"
    _, errors = load(tmp_path, config)
    assert errors == [
        ("connect.coap.kcql", "KCQL reads topic 'other', which 'topics.regex' (sensors_.*) does not match")
    ]


def test_coaps_needs_a_pre_shared_key(tmp_path):
    _, errors = load(tmp_path, base(**{"connect.coap.uri": "coaps://127.0.0.1:5684"}))
    assert errors[0][0] == "connect.coap.username" and "coaps:// URI needs a pre-shared key" in errors[0][1]
    assert "or certificates" in errors[0][1]  # tests/connectors/test_coap_sink_dtls_config.py
    _, errors = load(tmp_path, base(**{"connect.coap.uri": "coaps://127.0.0.1:5684", "connect.coap.username": "id"}))
    assert errors[0][0] == "connect.coap.password"


@pytest.mark.parametrize(
    "uri,message",
    [
        ("localhost", "is not a CoAP URI"),
        ("http://h", "is not a CoAP URI"),
        ("coap://discoverIP4:5683", "server discovery ('discoverip4') is not supported"),
        ("coap://h:5683/base?x=1", "has a query or fragment"),
        ("coap://h:99999", "out of range"),
    ],
)
def test_bad_uris(tmp_path, uri, message):
    _, errors = load(tmp_path, base(**{"connect.coap.uri": uri}))
    assert errors[0][0] == "connect.coap.uri" and message in errors[0][1]


def test_check_config_shows_the_kcql_error_position(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text(
        "name=c\nconnector.class=CoapSinkConnector\ntopics=t\nconnect.coap.uri=coap://127.0.0.1\n"
        "connect.coap.kcql=INSERT INTO r SELECT * FROM t;INSERT INTO s SELECT x y FROM t\n"
    )
    result = subprocess.run(
        [STREAMAPP, "check-config", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[:3] == [
        (
            f"ERROR: {bad}: key 'connect.coap.kcql': KCQL syntax error at line 1, column 54 (character 54): "
            "expected ',', AS or FROM after 'x', got 'y'"
        ),
        "  INSERT INTO r SELECT * FROM t;INSERT INTO s SELECT x y FROM t",
        "  " + " " * 53 + "^",
    ]
