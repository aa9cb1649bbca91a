"""Connector config validation: the seeds' configs load, bad ones fail naming file and key."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import streamapp.connector_types  # noqa: F401
from streamapp.config.loader import load_connectors
from streamapp.config.types import HIDDEN

ROOT = Path(__file__).resolve().parents[2]
SINK_CLASS = "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector"
SOURCE_CLASS = "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector"
COAP_CLASS = "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector"


def sink(**overrides):
    config = {
        "name": "sink",
        "connector.class": SINK_CLASS,
        "topics": "price",
        "diffusion.url": "ws://127.0.0.1:8080",
        "diffusion.username": "admin",
        "diffusion.password": "password",
        "diffusion.destination": "kafka/${topic}",
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


def load_one(tmp_path: Path, config: dict, name: str = "c.json"):
    path = tmp_path / name
    path.write_text(json.dumps(config))
    connectors, errors = load_connectors([path])
    return path, connectors, errors


def only_error(tmp_path, config):
    path, connectors, errors = load_one(tmp_path, config)
    assert connectors == [] and len(errors) == 1, errors
    return path, str(errors[0]), errors[0]


def test_sample_configs_all_load():
    connectors, errors = load_connectors([ROOT / "settings/connectors", ROOT / "settings/examples/confluent-cloud"])
    # The Confluent Cloud examples reuse the names of the REST samples, as the seed does.
    assert [str(e).split(": ", 1)[1] for e in errors] == [
        "key 'name': connector name 'DiffusionSinkConnector' is already used by "
        f"{ROOT}/settings/connectors/diffusion-sink.json; names must be unique",
        "key 'name': connector name 'DiffusionSourceConnector' is already used by "
        f"{ROOT}/settings/connectors/diffusion-source.json; names must be unique",
    ]
    by_name = {c.name: c for c in connectors}
    assert sorted(by_name) == ["DiffusionSinkConnector", "DiffusionSourceConnector", "coap-sink"]
    assert by_name["coap-sink"].config.kcql == "INSERT INTO unsecure SELECT * FROM coap_topic"
    assert by_name["coap-sink"].config.topics == ["coap_topic"]
    assert by_name["coap-sink"].config.tasks_max == 1  # from the seed's "tasks = 1"
    assert by_name["DiffusionSinkConnector"].config.diffusion_destination == "kafka/${topic}"
    assert by_name["DiffusionSinkConnector"].value_converter_options.schemas_enable is False
    assert by_name["DiffusionSourceConnector"].config.diffusion_poll_interval == 1000
    assert by_name["DiffusionSourceConnector"].config.diffusion_poll_size == 128


@pytest.mark.parametrize(
    "path",
    [
        "settings/examples/confluent-cloud/diffusion-sink.json",
        "settings/examples/confluent-cloud/diffusion-source.json",
    ],
)
def test_confluent_cloud_flat_examples_load(path):
    connectors, errors = load_connectors([ROOT / path])
    assert errors == [] and len(connectors) == 1


def test_missing_required_key_names_file_and_key(tmp_path):
    path, message, error = only_error(tmp_path, sink(**{"diffusion.destination": None}))
    assert error.source == str(path) and error.key == "diffusion.destination"
    assert message.startswith(f"{path}: key 'diffusion.destination': required key is missing")
    assert "Diffusion topic path pattern" in message


def test_every_error_of_a_file_is_reported(tmp_path):
    config = sink(**{"diffusion.url": None, "diffusion.username": None, "tasks.max": "zero"})
    path, connectors, errors = load_one(tmp_path, config)
    assert sorted(e.key for e in errors) == ["diffusion.url", "diffusion.username", "tasks.max"]


@pytest.mark.parametrize(
    "key,value,expected",
    [
        ("tasks.max", "many", "valid integer"),
        ("tasks.max", "0", "greater than or equal to 1"),
        ("errors.tolerance", "some", "'none' or 'all'"),
        ("diffusion.url", "http://host:8080", "expected ws://host:port or wss://host[:port]"),
        ("value.converter", "com.example.MyConverter", "unknown converter 'com.example.MyConverter'; supported:"),
        ("topics.regex", "price(", "not a valid regular expression"),
        ("errors.log.enable", "maybe", "valid boolean"),
    ],
)
def test_wrong_type_or_value_names_key_and_allowed_values(tmp_path, key, value, expected):
    overrides = {key: value}
    if key == "topics.regex":
        overrides["topics"] = None
    path, message, error = only_error(tmp_path, sink(**overrides))
    assert error.key == key
    assert message.startswith(f"{path}: key '{key}': ")
    assert expected in message


def test_source_poll_settings_are_checked(tmp_path):
    config = {
        "name": "src",
        "connector.class": SOURCE_CLASS,
        "diffusion.url": "wss://diffusion.example.com",
        "diffusion.username": "u",
        "diffusion.password": "p",
        "diffusion.selector": "?a/.*",
        "kafka.topic": "t",
        "diffusion.poll.size": "0",
        "diffusion.poll.interval": "-5",
    }
    _, _, errors = load_one(tmp_path, config)
    assert sorted(e.key for e in errors) == ["diffusion.poll.interval", "diffusion.poll.size"]


def test_unknown_connector_class_lists_supported(tmp_path):
    path, message, error = only_error(tmp_path, sink(**{"connector.class": "io.example.FooSinkConnector"}))
    assert error.key == "connector.class"
    assert "unknown connector class 'io.example.FooSinkConnector'" in message
    assert SINK_CLASS in message and SOURCE_CLASS in message and COAP_CLASS in message


@pytest.mark.parametrize("alias", [SINK_CLASS, "DiffusionSinkConnector", "DiffusionSink", "diffusion-sink"])
def test_connector_class_aliases(tmp_path, alias):
    _, connectors, errors = load_one(tmp_path, sink(**{"connector.class": alias}))
    assert errors == [] and connectors[0].type.name == "diffusion-sink"


def test_missing_connector_class(tmp_path):
    path, message, error = only_error(tmp_path, sink(**{"connector.class": None}))
    assert error.key == "connector.class" and "required key is missing" in message


def test_unresolvable_env_placeholder_names_file_key_and_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("DIFFUSION_PASSWORD", raising=False)
    path, message, error = only_error(tmp_path, sink(**{"diffusion.password": "${env:DIFFUSION_PASSWORD}"}))
    assert error.key == "diffusion.password"
    assert (
        message
        == f"{path}: key 'diffusion.password': ${{env:DIFFUSION_PASSWORD}}: environment variable DIFFUSION_PASSWORD is not set"
    )


def test_placeholders_resolve_and_password_is_masked(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFUSION_PASSWORD", "t0p-secret")
    secrets = tmp_path / "creds.properties"
    secrets.write_text("user=ops\n")
    config = sink(
        **{"diffusion.password": "${env:DIFFUSION_PASSWORD}", "diffusion.username": f"${{file:{secrets}:user}}"}
    )
    _, [connector], errors = load_one(tmp_path, config)
    assert errors == []
    assert connector.config.diffusion_password.get_secret_value() == "t0p-secret"
    assert connector.config.diffusion_username == "ops"
    masked = connector.masked()
    assert masked["diffusion.password"] == HIDDEN
    assert masked["diffusion.username"] == "ops"
    assert "t0p-secret" not in repr(connector) and "t0p-secret" not in json.dumps(masked)


def test_wrong_typed_password_never_echoes_the_value(tmp_path):
    config = {
        "name": "c",
        "connector.class": COAP_CLASS,
        "topics": "t",
        "connect.coap.uri": "coap://127.0.0.1",
        "connect.coap.kcql": "INSERT INTO r SELECT * FROM t",
        "connect.coap.max.retries": "lots",
        "connect.coap.password": ["hunter2"],
    }
    _, connectors, errors = load_one(tmp_path, config)
    text = "\n".join(map(str, errors))
    assert "hunter2" not in text
    assert "connect.coap.password" in text and "connect.coap.max.retries" in text and "'lots'" in text


def test_unknown_keys_warn_with_suggestion_but_load(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="streamapp.config"):
        _, [connector], errors = load_one(tmp_path, sink(**{"diffusion.destinaton": "x", "my.custom": "1"}))
    assert errors == []
    assert any(
        "'diffusion.destinaton' is not a known key" in w and "did you mean 'diffusion.destination'" in w
        for w in connector.warnings
    )
    assert any("'my.custom'" in w for w in connector.warnings)
    assert "diffusion.destinaton" in caplog.text


def test_unknown_password_like_key_is_masked(tmp_path):
    _, [connector], _ = load_one(tmp_path, sink(**{"diffusion.passwrd": "oops-secret"}))
    assert connector.masked()["diffusion.passwrd"] == HIDDEN


def test_sink_needs_topics_or_regex_not_both(tmp_path):
    _, message, error = only_error(tmp_path, sink(topics=None))
    assert error.key == "topics" and "needs 'topics'" in message
    _, message, error = only_error(tmp_path, sink(**{"topics.regex": "p.*"}))
    assert "not both" in message


def test_dead_letter_topic_cannot_be_a_source_topic(tmp_path):
    _, message, error = only_error(tmp_path, sink(**{"errors.deadletterqueue.topic.name": "price"}))
    assert error.key == "errors.deadletterqueue.topic.name"


def test_transforms_are_refused_clearly(tmp_path):
    _, message, error = only_error(tmp_path, sink(transforms="route", **{"transforms.route.type": "x"}))
    assert error.key == "transforms" and "not supported" in message


def test_converter_options_are_validated_with_prefix(tmp_path):
    _, message, error = only_error(tmp_path, sink(**{"value.converter.schemas.enable": "perhaps"}))
    assert error.key == "value.converter.schemas.enable" and "valid boolean" in message


def test_avro_converter_requires_registry_url_and_masks_user_info(tmp_path):
    avro = "io.confluent.connect.avro.AvroConverter"
    _, message, error = only_error(tmp_path, sink(**{"value.converter": avro}))
    assert error.key == "value.converter.schema.registry.url"
    _, [connector], errors = load_one(
        tmp_path,
        sink(
            **{
                "value.converter": "AvroConverter",
                "value.converter.schema.registry.url": "http://127.0.0.1:8081",
                "value.converter.basic.auth.credentials.source": "user_info",
                "value.converter.basic.auth.user.info": "user:registry-pw",
            }
        ),
    )
    assert errors == []
    assert connector.config.value_converter == avro
    assert connector.value_converter_options.basic_auth_credentials_source == "USER_INFO"
    assert connector.masked()["value.converter.basic.auth.user.info"] == HIDDEN


def test_json_native_types_are_accepted(tmp_path):
    _, [connector], errors = load_one(tmp_path, sink(**{"tasks.max": 3, "value.converter.schemas.enable": False}))
    assert errors == [] and connector.config.tasks_max == 3
    assert connector.value_converter_options.schemas_enable is False


def test_nested_values_are_rejected(tmp_path):
    _, message, error = only_error(tmp_path, sink(topics=["a", "b"]))
    assert error.key == "topics" and "flat key/value pairs" in message


def test_duplicate_names_across_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(sink()))
    (tmp_path / "b.json").write_text(json.dumps(sink()))
    connectors, errors = load_connectors([tmp_path])
    assert len(connectors) == 1 and len(errors) == 1
    assert "already used" in str(errors[0]) and str(tmp_path / "b.json") in str(errors[0])


def test_coap_seed_properties_defaults(tmp_path):
    path = tmp_path / "coap.properties"
    path.write_text(
        "name = coap-sink\ntasks = 1\nconnector.class = com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector\n"
        "connect.coap.uri = coap://localhost:5683\nconnect.coap.kcql = INSERT INTO unsecure SELECT * FROM coap_topic\n"
        "topics = coap_topic\nconnect.coap.error.policy = retry\n"
    )
    [connector], errors = load_connectors([path])
    assert errors == []
    cfg = connector.config
    assert (cfg.error_policy, cfg.max_retries, cfg.retry_interval, cfg.host, cfg.port) == (
        "RETRY",
        20,
        60000,
        "localhost",
        0,
    )
    assert cfg.keystore_pass.get_secret_value() == "rootPass"
    assert connector.masked()["connect.coap.keystore.pass"] == HIDDEN


def test_coap_uri_must_be_coap(tmp_path):
    config = {
        "name": "c",
        "connector.class": "coap-sink",
        "topics": "t",
        "connect.coap.uri": "localhost",
        "connect.coap.kcql": "INSERT INTO r SELECT * FROM t",
    }
    _, message, error = only_error(tmp_path, config)
    assert error.key == "connect.coap.uri" and "coap://host[:port]" in message
