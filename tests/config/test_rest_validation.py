"""What the REST API's create, change and validate rely on, without a worker: Connect's ConfigInfos
(every key, each error under its key, passwords hidden), the 400 message, masking, the name check,
the config topic's records and the offsets a PATCH accepts."""

from __future__ import annotations

import json

import pytest

import streamapp.connector_types  # noqa: F401  (registers the connector types)
from streamapp.config import validate as validation
from streamapp.config.store import ConfigStore
from streamapp.connector_offsets import _parse_sink
from streamapp.errors import RequestRefused
from streamapp.herder import _with_name
from streamapp.settings import WorkerSettings

SINK = {
    "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
    "name": "s",
    "topics": "price",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
    "diffusion.url": "ws://127.0.0.1:8080",
    "diffusion.username": "admin",
    "diffusion.password": "pa55word",
    "diffusion.destination": "kafka/${topic}",
}
SOURCE = {
    "connector.class": "DiffusionSourceConnector",
    "name": "src",
    "kafka.topic": "diffusion.price",
    "diffusion.url": "ws://127.0.0.1:8080",
    "diffusion.username": "admin",
    "diffusion.password": "${env:DIFFUSION_PASSWORD}",
    "diffusion.selector": "?source/kafka/.*",
}
COAP = {
    "connector.class": "coap-sink",
    "name": "c",
    "topics": "coap_topic",
    "connect.coap.uri": "coap://127.0.0.1:5683",
    "connect.coap.kcql": "INSERT INTO unsecure SELECT * FROM coap_topic",
}


def _infos(props: dict) -> dict:
    return validation.config_infos(validation.validate(props))


def _by_name(infos: dict) -> dict:
    return {c["definition"]["name"]: c for c in infos["configs"]}


@pytest.mark.parametrize("props", [SINK, SOURCE, COAP], ids=["sink", "source", "coap"])
def test_a_valid_config_has_no_error_and_every_entry_has_connects_shape(props, monkeypatch):
    monkeypatch.setenv("DIFFUSION_PASSWORD", "from-env")
    infos = _infos(props)
    assert infos["error_count"] == 0, infos
    assert infos["groups"][0] == "Common" and len(infos["groups"]) == len(set(infos["groups"]))
    for entry in infos["configs"]:
        d, v = entry["definition"], entry["value"]
        assert set(d) == {
            "name", "type", "required", "default_value", "importance", "documentation", "group", "order",
            "width", "display_name", "dependents",
        }  # fmt: skip
        assert d["type"] in ("BOOLEAN", "CLASS", "DOUBLE", "INT", "LIST", "LONG", "PASSWORD", "SHORT", "STRING")
        assert d["importance"] in ("LOW", "MEDIUM", "HIGH") and d["width"] in ("SHORT", "MEDIUM", "LONG", "NONE")
        assert d["group"] in infos["groups"]
        assert set(v) == {"name", "value", "recommended_values", "errors", "visible"} and v["name"] == d["name"]
        assert v["errors"] == []
    assert "connector.class" in _by_name(infos) and _by_name(infos)["connector.class"]["definition"]["type"] == "CLASS"


def test_each_error_is_under_its_key_and_counted():
    props = {**SINK, "diffusion.max.in.flight": "many"}
    del props["diffusion.url"]
    infos = _infos(props)
    by_name = _by_name(infos)
    assert infos["error_count"] == 2
    assert by_name["diffusion.url"]["value"]["errors"] and by_name["diffusion.url"]["definition"]["required"]
    assert by_name["diffusion.max.in.flight"]["value"]["errors"]
    assert by_name["diffusion.max.in.flight"]["value"]["value"] == "many"
    assert {k for k, c in by_name.items() if c["value"]["errors"]} == {"diffusion.url", "diffusion.max.in.flight"}


def test_passwords_are_hidden_in_infos_in_the_400_message_and_in_answers():
    props = {**SINK, "diffusion.max.in.flight": "many"}
    infos = _infos(props)
    assert _by_name(infos)["diffusion.password"]["definition"]["type"] == "PASSWORD"
    assert _by_name(infos)["diffusion.password"]["value"]["value"] == "[hidden]"
    assert "pa55word" not in json.dumps(infos)
    checked = validation.validate(props)
    message = validation.invalid_message(checked.errors)
    assert message.startswith("Connector configuration is invalid and contains the following 1 error(s):")
    assert "diffusion.max.in.flight:" in message and "pa55word" not in message
    masked = validation.masked(SINK)
    assert masked["diffusion.password"] == "[hidden]" and masked["diffusion.username"] == "admin"
    assert validation.masked({"connector.class": "Unknown", "my.secret.password": "x"})["my.secret.password"] == (
        "[hidden]"
    )  # an unknown class: hidden by the key's name


def test_a_plain_password_is_reported_a_placeholder_is_not(monkeypatch):
    monkeypatch.setenv("DIFFUSION_PASSWORD", "from-env")
    plain = validation.validate(SINK)
    assert validation.plain_secrets(plain.loaded, SINK) == ["diffusion.password"]
    placeholder = validation.validate(SOURCE)
    assert validation.plain_secrets(placeholder.loaded, SOURCE) == []


def test_an_unknown_key_is_not_an_error():
    infos = _infos({**SINK, "diffusion.destinaton": "typo"})
    assert infos["error_count"] == 0  # unknown keys are warnings, as in Connect
    assert "diffusion.destination" in _by_name(infos)


@pytest.mark.parametrize(
    ("config", "name", "expected"),
    [
        ({}, "a", {"name": "a"}),
        ({"name": "a", "x": "1"}, "a", {"name": "a", "x": "1"}),
    ],
)
def test_the_name_in_the_config_is_the_connectors(config, name, expected):
    assert _with_name(config, name) == expected


def test_a_different_name_in_the_config_is_refused_as_connect_does():
    with pytest.raises(RequestRefused) as refused:
        _with_name({"name": "two"}, "one")
    assert refused.value.status == 400
    assert refused.value.message == "Connector name configuration (two) doesn't match connector name in the URL (one)"


def test_the_config_topic_records_build_connectors_and_target_states():
    store = ConfigStore(WorkerSettings(app_id="app", broker="kafka://127.0.0.1:9"))
    assert store.topic == "app-streamapp-configs"
    store.apply(b"connector-a", json.dumps({"name": "a", "config": {"k": "${env:X}"}}).encode())
    store.apply(b"target-state-a", b'{"state": "STOPPED"}')
    store.apply(b"target-state-f", b'{"state": "PAUSED"}')  # a file connector's target state
    assert store.connectors["a"].config == {"k": "${env:X}"}  # as given, never resolved
    assert (store.target("a"), store.target("f"), store.target("other")) == ("STOPPED", "PAUSED", "STARTED")
    store.apply(b"target-state-a", b'{"state": "SLEEPING"}')  # not a state: ignored
    store.apply(b"connector-b", b"not json")
    store.apply(None, b"{}")
    assert store.target("a") == "STOPPED" and "b" not in store.connectors
    store.apply(b"connector-a", None)  # tombstone: deleted
    store.apply(b"target-state-a", None)
    assert "a" not in store.connectors and store.target("a") == "STARTED"


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": 3}}, {("t", 0): 3}),
        ({"partition": {"kafka_topic": "t", "kafka_partition": 2}, "offset": None}, {("t", 2): None}),
    ],
)
def test_sink_offsets_a_patch_accepts(entry, expected):
    assert _parse_sink([entry]) == expected


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"offset": {"kafka_offset": 1}}, "'partition'"),
        ({"partition": {"kafka_partition": 0}, "offset": {"kafka_offset": 1}}, "kafka_topic"),
        ({"partition": {"kafka_topic": "t", "kafka_partition": -1}, "offset": {"kafka_offset": 1}}, "kafka_partition"),
        (
            {"partition": {"kafka_topic": "t", "kafka_partition": True}, "offset": {"kafka_offset": 1}},
            "kafka_partition",
        ),
        ({"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": "3"}}, "kafka_offset"),
        ({"partition": {"kafka_topic": "t", "kafka_partition": 0}, "offset": {"kafka_offset": -2}}, "kafka_offset"),
        ("not an object", "'partition'"),
    ],
)
def test_sink_offsets_a_patch_refuses_with_400_naming_the_field(entry, says):
    with pytest.raises(RequestRefused) as refused:
        _parse_sink([entry])
    assert refused.value.status == 400 and says in refused.value.message
