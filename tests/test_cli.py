"""The `streamapp` command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STREAMAPP = str(Path(sys.executable).with_name("streamapp"))


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STREAMAPP, *args], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)


def test_check_config_accepts_both_seeds_and_masks_passwords():
    result = run("check-config", "settings/connectors", "settings/examples/confluent-cloud/diffusion-sink.json")
    # The Confluent Cloud example reuses the REST sample's name, which must be reported.
    assert result.returncode == 1
    result = run("check-config", "settings/connectors")
    assert result.returncode == 0, result.stderr
    assert "# coap-sink: com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector" in result.stdout
    assert "connect.coap.kcql = INSERT INTO unsecure SELECT * FROM coap_topic" in result.stdout
    assert "diffusion.destination = kafka/${topic}" in result.stdout
    assert "diffusion.password = [hidden]" in result.stdout
    assert "= password" not in result.stdout
    assert "3 connector(s) valid, 0 error(s)" in result.stderr


def test_check_config_json_output(tmp_path):
    result = run("check-config", "--json", "settings/examples/confluent-cloud/diffusion-source.json")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    [connector] = doc["connectors"]
    assert connector["type"] == "diffusion-source" and connector["implemented"] is True
    assert connector["config"]["diffusion.password"] == "[hidden]"
    assert connector["config"]["diffusion.selector"] == "?source/kafka/.*"


def test_check_config_rejects_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_text(
        "name=c\nconnector.class=CoapSinkConnector\ntopics=t\nconnect.coap.uri=coap://127.0.0.1\n"
        "connect.coap.max.retries=often\nconnect.coap.password=${env:STREAMAPP_TEST_NOT_SET}\n"
    )
    result = run("check-config", str(bad))
    assert result.returncode == 1
    assert f"ERROR: {bad}: key 'connect.coap.kcql': required key is missing" in result.stderr
    assert f"ERROR: {bad}: key 'connect.coap.max.retries': input should be a valid integer" in result.stderr
    assert f"ERROR: {bad}: key 'connect.coap.password': ${{env:STREAMAPP_TEST_NOT_SET}}" in result.stderr


def test_check_config_unknown_class(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text(json.dumps({"name": "x", "config": {"connector.class": "org.example.MqttSinkConnector"}}))
    result = run("check-config", str(bad))
    assert result.returncode == 1
    assert f"{bad}: key 'connector.class': unknown connector class 'org.example.MqttSinkConnector'" in result.stderr


def test_check_config_missing_path():
    result = run("check-config", "no/such/dir")
    assert result.returncode == 1 and "no/such/dir: no such file or directory" in result.stderr


def test_settings_lists_every_variable_and_hides_secrets():
    import os

    env = {**os.environ, "STREAMAPP_SASL_PASSWORD": "kafka-secret", "STREAMAPP_ENV_FILE": "/nonexistent"}
    result = run("settings", env=env)
    assert result.returncode == 0, result.stderr
    assert "STREAMAPP_BROKER=kafka://127.0.0.1:9092" in result.stdout
    assert "STREAMAPP_SASL_PASSWORD=[hidden]" in result.stdout
    assert "kafka-secret" not in result.stdout
