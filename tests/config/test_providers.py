"""Config-provider placeholders, Kafka Connect syntax."""

from __future__ import annotations

import pytest

from streamapp.config.providers import PlaceholderError, resolve_placeholders


def test_env(monkeypatch):
    monkeypatch.setenv("DIFF_PW", "s3cret")
    assert resolve_placeholders("${env:DIFF_PW}") == ("s3cret", True)


def test_env_inside_text_and_several(monkeypatch):
    monkeypatch.setenv("H", "example.org")
    monkeypatch.setenv("P", "8080")
    assert resolve_placeholders("ws://${env:H}:${env:P}/x")[0] == "ws://example.org:8080/x"


def test_missing_env_names_the_variable_not_a_value(monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    with pytest.raises(PlaceholderError, match="environment variable NOPE_NOT_SET is not set"):
        resolve_placeholders("${env:NOPE_NOT_SET}")


def test_file_provider_reads_properties(tmp_path):
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("diffusion.password=pa55\nother=x\n")
    assert resolve_placeholders(f"${{file:{secrets}:diffusion.password}}") == ("pa55", True)


def test_file_provider_missing_key_and_file(tmp_path):
    secrets = tmp_path / "secrets.properties"
    secrets.write_text("a=1\n")
    with pytest.raises(PlaceholderError, match="key 'b' not found"):
        resolve_placeholders(f"${{file:{secrets}:b}}")
    with pytest.raises(PlaceholderError, match="cannot read"):
        resolve_placeholders(f"${{file:{tmp_path}/absent.properties:b}}")


def test_directory_provider_reads_whole_file(tmp_path):
    (tmp_path / "password").write_text("from-a-k8s-secret")
    assert resolve_placeholders(f"${{directory:{tmp_path}:password}}")[0] == "from-a-k8s-secret"


def test_directory_provider_refuses_paths_in_file_name(tmp_path):
    with pytest.raises(PlaceholderError, match="must not contain a path"):
        resolve_placeholders(f"${{directory:{tmp_path}:../etc/passwd}}")


def test_unknown_provider_is_an_error():
    with pytest.raises(PlaceholderError, match="unknown config provider 'vault'; available: env, file, directory"):
        resolve_placeholders("${vault:secret/data:pw}")


@pytest.mark.parametrize("text", ["kafka/${topic}", "a/${key}/${key.version}", "${value.version}", "plain", ""])
def test_connector_tokens_are_left_alone(text):
    assert resolve_placeholders(text) == (text, False)
