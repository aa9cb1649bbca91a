"""The Diffusion connectors' wss:// keys, checked when the config loads: truststores, types, passwords, warnings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamapp.config.loader import load_connectors
from streamapp.diffusion.tls import SYSTEM_TRUST_STORE
from tests.fixtures.pki import STORE_PASSWORD

STREAMAPP = str(Path(sys.executable).with_name("streamapp"))
LOCATION = "diffusion.ssl.truststore.location"
TYPE = "diffusion.ssl.truststore.type"
PASSWORD = "diffusion.ssl.truststore.password"
ALGORITHM = "diffusion.ssl.endpoint.identification.algorithm"
CA = "CN=streamapp test CA,O=streamapp tests"
ROGUE_CA = "CN=rogue CA,O=streamapp tests"


def sink(**overrides: str) -> dict:
    return {
        "connector.class": "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector",
        "topics": "t",
        "diffusion.url": "wss://diffusion.example:443",
        "diffusion.username": "admin",
        "diffusion.password": "Diff-pass-31",
        "diffusion.destination": "kafka/${topic}",
        **overrides,
    }


def source(**overrides: str) -> dict:
    values = sink(**overrides)
    del values["topics"], values["diffusion.destination"]
    values["connector.class"] = "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector"
    return {"diffusion.selector": "?prices//", "kafka.topic": "prices", **values}


def load(tmp_path: Path, values: dict):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "c", "config": values}))
    connectors, errors = load_connectors([path])
    return connectors, [(e.key, e.detail) for e in errors]


def fill(pki, text: str) -> str:
    """``{name}`` -> the path of the PKI file ``name``."""
    return re.sub(r"\{([\w.-]+)\}", lambda m: pki.path(m.group(1)), text)


def subjects(tls) -> list[str]:
    return sorted(c.subject.rfc4514_string() for c in tls.trust_anchors)


@pytest.mark.parametrize("make", [sink, source], ids=["sink", "source"])
def test_defaults_trust_the_system_store_and_check_host_names(tmp_path, make):
    [connector], errors = load(tmp_path, make())
    assert errors == [] and connector.warnings == ()
    tls = connector.config.tls
    assert (tls.trust_anchors, tls.trust_source, tls.check_hostname) == ((), SYSTEM_TRUST_STORE, True)


@pytest.mark.parametrize("make", [sink, source], ids=["sink", "source"])
def test_each_store_type(tmp_path, pki, jks_stores, make):
    _, jks = jks_stores
    cases = {
        "PEM": ({LOCATION: pki.path("ca.pem"), TYPE: "pem"}, [CA]),
        "JKS": ({LOCATION: jks, PASSWORD: STORE_PASSWORD}, [CA, ROGUE_CA]),  # JKS: Kafka's default type
        "JKS, no password": ({LOCATION: jks}, [CA, ROGUE_CA]),
        "PKCS12": ({LOCATION: pki.path("truststore.p12"), TYPE: "PKCS12", PASSWORD: STORE_PASSWORD}, [CA, ROGUE_CA]),
        # Java 9+ reads either format whichever type is named; so do we.
        "PKCS12 named JKS": ({LOCATION: pki.path("truststore.p12"), PASSWORD: STORE_PASSWORD}, [CA, ROGUE_CA]),
    }
    for name, (keys, expected) in cases.items():
        [connector], errors = load(tmp_path, make(**keys))
        assert errors == [], name
        tls = connector.config.tls
        assert subjects(tls) == sorted(expected), name
        assert tls.trust_source == f"truststore '{keys[LOCATION]}' ({LOCATION})"
        assert tls.client_context().get_ca_certs(), name  # OpenSSL took them


@pytest.mark.parametrize(
    ("overrides", "key", "detail"),
    [
        ({LOCATION: "/no/such.jks"}, LOCATION, "cannot read '/no/such.jks': No such file or directory"),
        ({LOCATION: "/no/such.pem", TYPE: "PEM"}, LOCATION, "cannot read '/no/such.pem': No such file or directory"),
        ({LOCATION: "{.}"}, LOCATION, "cannot read '{.}': Is a directory"),
        ({LOCATION: "{server.key}"}, LOCATION, "'{server.key}' is not a PKCS#12 or JKS keystore"),
        ({LOCATION: "{server.key}", TYPE: "PEM"}, LOCATION, "'{server.key}' holds no PEM certificate"),
        ({LOCATION: "{ca.pem}"}, TYPE, f"'{{ca.pem}}' is a PEM file, not a JKS truststore: set {TYPE}=PEM"),
        ({LOCATION: "{ca.pem}", TYPE: "PKCS12"}, TYPE, "is a PEM file, not a PKCS12 truststore"),
        ({LOCATION: "{truststore.p12}", TYPE: "PEM"}, TYPE, f"is a JKS or PKCS#12 truststore, not PEM: set {TYPE}"),
        ({LOCATION: "{truststore.p12}", PASSWORD: "nope"}, PASSWORD, "wrong password for keystore '{truststore.p12}'"),
        ({LOCATION: "{truststore.p12}"}, PASSWORD, "keystore '{truststore.p12}' is encrypted and no password is set"),
        ({LOCATION: "{ca.pem}", TYPE: "PEM", PASSWORD: "x"}, PASSWORD, "a PEM truststore has no password"),
        ({LOCATION: "{keystore.p12}", PASSWORD: STORE_PASSWORD, TYPE: "PKCS12"}, None, None),  # a keystore's chain
        ({TYPE: "JCEKS"}, TYPE, "input should be 'PEM', 'JKS' or 'PKCS12'"),
        ({ALGORITHM: "http"}, ALGORITHM, "'http' is not an endpoint identification algorithm"),
    ],
)
def test_truststore_mistakes_name_the_key_and_file(tmp_path, pki, overrides, key, detail):
    overrides = {k: fill(pki, v) for k, v in overrides.items()}
    for make in (sink, source):
        _, errors = load(tmp_path, make(**overrides))
        if key is None:
            assert errors == []
        else:
            assert len(errors) == 1 and errors[0][0] == key and fill(pki, detail) in errors[0][1], errors


def test_jks_mistakes(tmp_path, pki, jks_stores):
    keystore, truststore = jks_stores
    _, errors = load(tmp_path, sink(**{LOCATION: truststore, PASSWORD: "wrong"}))
    assert errors == [(PASSWORD, f"wrong password for keystore '{truststore}' (or the file is damaged)")]
    _, errors = load(tmp_path, sink(**{LOCATION: keystore}))  # a key entry needs the password
    assert errors == [(PASSWORD, f"key entry 'client' of '{keystore}' needs the keystore password")]
    damaged = tmp_path / "damaged.jks"
    damaged.write_bytes(Path(truststore).read_bytes()[:200])
    _, errors = load(tmp_path, sink(**{LOCATION: str(damaged), PASSWORD: STORE_PASSWORD}))
    assert len(errors) == 1 and errors[0][0] in (LOCATION, PASSWORD) and str(damaged) in errors[0][1]


def test_warnings(tmp_path, pki):
    [connector], errors = load(tmp_path, sink(**{ALGORITHM: ""}))
    assert errors == [] and connector.config.tls.check_hostname is False
    [warning] = connector.warnings
    assert f"{ALGORITHM} is empty: the host name of 'wss://diffusion.example:443' is not checked" in warning
    assert str(tmp_path / "c.json") in warning

    [connector], errors = load(
        tmp_path, sink(**{"diffusion.url": "ws://127.0.0.1:8080", LOCATION: pki.path("ca.pem"), TYPE: "PEM"})
    )
    assert errors == []
    assert connector.warnings == (
        f"{tmp_path / 'c.json'}: {LOCATION}, {TYPE}: apply to wss:// URLs only; 'ws://127.0.0.1:8080' is not one",
    )
    [connector], errors = load(tmp_path, sink(**{PASSWORD: "unused"}))
    assert errors == [] and len(connector.warnings) == 1
    assert f"{PASSWORD}: ignored without {LOCATION}" in connector.warnings[0]


def run_check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STREAMAPP, "check-config", str(path)], capture_output=True, text=True, timeout=60)


def test_check_config_reports_a_missing_or_unreadable_truststore_with_key_and_file(tmp_path, pki):
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"name": "m", "config": sink(**{LOCATION: "/etc/streamapp/diffusion-ca.jks"})}))
    unreadable = tmp_path / "unreadable.json"
    garbage = tmp_path / "garbage.p12"
    garbage.write_bytes(b"\x30\x03\x02\x01\x00not a keystore")
    unreadable.write_text(
        json.dumps({"name": "u", "config": source(**{LOCATION: str(garbage), PASSWORD: STORE_PASSWORD})})
    )
    result = run_check_config(missing)
    assert result.returncode == 1
    assert (
        f"ERROR: {missing}: key '{LOCATION}': cannot read '/etc/streamapp/diffusion-ca.jks': No such file or directory"
        in result.stderr
    )
    result = run_check_config(unreadable)
    assert result.returncode == 1
    assert f"ERROR: {unreadable}: key '{PASSWORD}': wrong password for keystore '{garbage}'" in result.stderr
    for output in (result.stdout, result.stderr):
        assert STORE_PASSWORD not in output and "Diff-pass-31" not in output


def test_check_config_prints_a_valid_truststore_masked_and_the_host_name_warning(tmp_path, pki):
    path = tmp_path / "ok.json"
    keys = {LOCATION: pki.path("truststore.p12"), TYPE: "PKCS12", PASSWORD: STORE_PASSWORD, ALGORITHM: ""}
    path.write_text(json.dumps({"name": "ok", "config": sink(**keys)}))
    result = run_check_config(path)
    assert result.returncode == 0, result.stderr
    assert f"{LOCATION} = {pki.path('truststore.p12')}" in result.stdout
    assert f"{PASSWORD} = [hidden]" in result.stdout
    assert f"WARNING: {path}: {ALGORITHM} is empty" in result.stderr
    assert STORE_PASSWORD not in result.stdout + result.stderr
