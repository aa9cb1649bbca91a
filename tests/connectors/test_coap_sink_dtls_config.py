"""Certificate DTLS keys of the CoAP sink, checked when the config loads: stores, PEM files, passwords, aliases."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from streamapp.config.loader import load_connectors
from tests.fixtures.pki import KEY_PASSWORD, STORE_PASSWORD

STREAMAPP = str(Path(sys.executable).with_name("streamapp"))


def config(**overrides: str) -> dict:
    return {
        "connector.class": "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector",
        "connect.coap.uri": "coaps://127.0.0.1:5684",
        "connect.coap.kcql": "INSERT INTO r SELECT * FROM t",
        "topics": "t",
        **overrides,
    }


def stores(pki, **overrides: str) -> dict:
    return config(
        **{
            "connect.coap.keystore.path": pki.path("keystore.p12"),
            "connect.coap.keystore.pass": STORE_PASSWORD,
            "connect.coap.truststore.path": pki.path("truststore.p12"),
            "connect.coap.truststore.pass": STORE_PASSWORD,
            **overrides,
        }
    )


def pem(pki, **overrides: str) -> dict:
    return config(
        **{
            "connect.coap.dtls.certificate.chain.file": pki.path("client-chain.pem"),
            "connect.coap.dtls.private.key.file": pki.path("client.key"),
            "connect.coap.dtls.ca.file": pki.path("ca.pem"),
            **overrides,
        }
    )


def load(tmp_path: Path, values: dict):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "c", "config": values}))
    connectors, errors = load_connectors([path])
    return connectors, [(e.key, e.detail) for e in errors]


def subjects(certificates) -> list[str]:
    return [c.subject.rfc4514_string() for c in certificates]


def test_pem_files(tmp_path, pki):
    connectors, errors = load(tmp_path, pem(pki))
    assert errors == []
    x509 = connectors[0].config.x509
    assert subjects(x509.chain) == ["CN=coap sink,O=streamapp tests", "CN=streamapp test CA,O=streamapp tests"]
    assert subjects(x509.trust) == ["CN=streamapp test CA,O=streamapp tests"]
    assert (x509.verify_hostname, x509.ciphers) == (True, None)


def test_encrypted_pem_key(tmp_path, pki):
    key = {"connect.coap.dtls.private.key.file": pki.path("client-encrypted.key")}
    connectors, errors = load(tmp_path, pem(pki, **key, **{"connect.coap.dtls.private.key.pass": KEY_PASSWORD}))
    assert errors == [] and connectors[0].config.x509.key is not None
    _, errors = load(tmp_path, pem(pki, **key))
    assert errors == [
        (
            "connect.coap.dtls.private.key.pass",
            f"the private key in '{pki.path('client-encrypted.key')}' is encrypted and no password is set",
        )
    ]
    _, errors = load(tmp_path, pem(pki, **key, **{"connect.coap.dtls.private.key.pass": "wrong-one"}))
    assert errors == [
        (
            "connect.coap.dtls.private.key.pass",
            f"wrong password for the private key in '{pki.path('client-encrypted.key')}'",
        )
    ]


def test_pkcs12_keystore_and_truststore_with_aliases(tmp_path, pki):
    connectors, errors = load(tmp_path, stores(pki, **{"connect.coap.certs": "root"}))
    assert errors == []
    x509 = connectors[0].config.x509
    assert subjects(x509.chain)[0] == "CN=coap sink,O=streamapp tests"
    assert subjects(x509.trust) == ["CN=streamapp test CA,O=streamapp tests"]
    assert x509.identity_source == f"keystore '{pki.path('keystore.p12')}', alias 'client'"
    assert x509.trust_source == f"truststore '{pki.path('truststore.p12')}' (aliases root)"
    # no aliases: every certificate of the truststore
    connectors, _ = load(tmp_path, stores(pki))
    assert subjects(connectors[0].config.x509.trust) == [
        "CN=streamapp test CA,O=streamapp tests",
        "CN=rogue CA,O=streamapp tests",
    ]


@pytest.mark.parametrize(
    ("overrides", "key", "detail"),
    [
        (
            {"connect.coap.keystore.pass": "not-it"},
            "connect.coap.keystore.pass",
            "wrong password for keystore '{keystore.p12}' (or the file is damaged)",
        ),
        (
            {"connect.coap.truststore.pass": "not-it"},
            "connect.coap.truststore.pass",
            "wrong password for keystore '{truststore.p12}' (or the file is damaged)",
        ),
        (
            {"connect.coap.cert.chain.key": "sink"},
            "connect.coap.cert.chain.key",
            "keystore '{keystore.p12}' has no key entry 'sink' (it has 'client')",
        ),
        (
            {"connect.coap.certs": "root,ca"},
            "connect.coap.certs",
            "truststore '{truststore.p12}' has no certificate 'ca' (it has 'root', 'other')",
        ),
        (
            {"connect.coap.keystore.path": "/no/such.p12"},
            "connect.coap.keystore.path",
            "cannot read '/no/such.p12': No such file or directory",
        ),
        (
            {"connect.coap.truststore.path": "{ca.pem}"},
            "connect.coap.truststore.path",
            "'{ca.pem}' is not a PKCS#12 or JKS keystore",
        ),
        (
            {"connect.coap.dtls.cipher.suites": "NOT-A-SUITE"},
            "connect.coap.dtls.cipher.suites",
            "OpenSSL knows none of the cipher suites 'NOT-A-SUITE'",
        ),
    ],
)
def test_store_mistakes_name_the_key_and_file(tmp_path, pki, overrides, key, detail):
    overrides = {k: fill(pki, v) for k, v in overrides.items()}
    _, errors = load(tmp_path, stores(pki, **overrides))
    assert errors == [(key, fill(pki, detail))]


def fill(pki, text: str) -> str:
    """``{name}`` -> the path of the PKI file ``name``."""
    return re.sub(r"\{([\w.-]+)\}", lambda m: pki.path(m.group(1)), text)


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"connect.coap.dtls.private.key.file": ""}, "connect.coap.dtls.private.key.file", "needs both"),
        (
            {"connect.coap.dtls.private.key.file": "{server.key}"},
            "connect.coap.dtls.private.key.file",
            "the private key does not belong to the client certificate CN=coap sink",
        ),
        (
            {"connect.coap.dtls.private.key.file": "{ca.pem}"},
            "connect.coap.dtls.private.key.file",
            "holds no private key that can be read",
        ),
        (
            {"connect.coap.dtls.certificate.chain.file": "{client.key}"},
            "connect.coap.dtls.certificate.chain.file",
            "holds no PEM certificate",
        ),
        ({"connect.coap.dtls.ca.file": ""}, "connect.coap.truststore.path", "needs trust anchors for the server"),
        ({"connect.coap.certs": "root"}, "connect.coap.certs", "set connect.coap.truststore.path too"),
        ({"connect.coap.keystore.path": "{keystore.p12}"}, "connect.coap.dtls.certificate.chain.file", "not both"),
        (
            {"connect.coap.public.key.file": "/etc/pub.pem"},
            "connect.coap.public.key.file",
            "raw public keys (RFC 7250) are not supported",
        ),
        (
            {"connect.coap.private.key.file": "/etc/key.pem"},
            "connect.coap.private.key.file",
            "use a certificate for the key pair",
        ),
    ],
)
def test_pem_mistakes_name_the_key(tmp_path, pki, overrides, key, words):
    overrides = {k: fill(pki, v) for k, v in overrides.items()}
    _, errors = load(tmp_path, pem(pki, **overrides))
    assert len(errors) == 1 and errors[0][0] == key and words in errors[0][1], errors


def test_jks_keystore_and_truststore_made_by_keytool(tmp_path, pki, jks_stores):
    keystore, truststore = jks_stores
    values = stores(
        pki,
        **{
            "connect.coap.keystore.path": keystore,
            "connect.coap.truststore.path": truststore,
            "connect.coap.certs": "root",
        },
    )
    connectors, errors = load(tmp_path, values)
    assert errors == []
    x509 = connectors[0].config.x509
    assert subjects(x509.chain) == ["CN=coap sink,O=streamapp tests", "CN=streamapp test CA,O=streamapp tests"]
    assert subjects(x509.trust) == ["CN=streamapp test CA,O=streamapp tests"]
    _, errors = load(tmp_path, {**values, "connect.coap.keystore.pass": "not-it"})
    assert errors == [
        ("connect.coap.keystore.pass", f"wrong password for keystore '{keystore}' (or the file is damaged)")
    ]
    _, errors = load(tmp_path, {**values, "connect.coap.cert.chain.key": "server"})
    assert errors == [
        ("connect.coap.cert.chain.key", f"keystore '{keystore}' has no key entry 'server' (it has 'client')")
    ]


def test_a_damaged_jks_file_is_an_error_not_a_crash(tmp_path, pki, jks_stores):
    data = bytearray(Path(jks_stores[0]).read_bytes())
    damaged = tmp_path / "damaged.jks"
    damaged.write_bytes(bytes(data[:200]))  # cut off: the trailer digest does not match
    _, errors = load(tmp_path, stores(pki, **{"connect.coap.keystore.path": str(damaged)}))
    assert errors == [
        ("connect.coap.keystore.pass", f"wrong password for keystore '{damaged}' (or the file is damaged)")
    ]


def test_jceks_stores_are_refused_with_the_keytool_command(tmp_path, pki):
    jceks = tmp_path / "keystore.jceks"
    jceks.write_bytes(b"\xce\xce\xce\xce\x00\x00\x00\x02" + bytes(40))
    _, errors = load(tmp_path, stores(pki, **{"connect.coap.keystore.path": str(jceks)}))
    [(key, detail)] = errors
    assert key == "connect.coap.keystore.path"
    assert detail == (
        f"'{jceks}' is a JCEKS keystore; streamapp reads PKCS#12 and JKS: convert it with `keytool "
        f"-importkeystore -srckeystore {jceks} -srcstoretype jceks -destkeystore {tmp_path / 'keystore.p12'} "
        "-deststoretype pkcs12` and point the setting at the .p12 file"
    )


def test_a_username_selects_the_pre_shared_key_as_in_stream_reactor(tmp_path, pki):
    connectors, errors = load(
        tmp_path, stores(pki, **{"connect.coap.username": "id", "connect.coap.password": "secret"})
    )
    assert errors == [] and connectors[0].config.x509 is None


def test_plain_coap_ignores_certificate_keys(tmp_path, pki):
    connectors, errors = load(tmp_path, pem(pki, **{"connect.coap.uri": "coap://127.0.0.1:5683"}))
    assert errors == [] and connectors[0].config.x509 is None


def test_passwords_are_hidden_in_check_config_and_masked_configs(tmp_path, pki):
    values = stores(
        pki,
        **{
            "connect.coap.keystore.pass": "Wr0ng-Secret-1",
            "connect.coap.truststore.pass": STORE_PASSWORD,
            "connect.coap.dtls.private.key.pass": "Other-Secret-2",
        },
    )
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"name": "c", "config": values}))
    result = subprocess.run(
        [STREAMAPP, "check-config", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "key 'connect.coap.keystore.pass': wrong password for keystore" in result.stderr
    for secret in ("Wr0ng-Secret-1", STORE_PASSWORD, "Other-Secret-2"):
        assert secret not in result.stdout + result.stderr
    connectors, _ = load(tmp_path, stores(pki, **{"connect.coap.dtls.private.key.pass": "Other-Secret-2"}))
    masked = connectors[0].masked()
    assert {
        masked[k]
        for k in ("connect.coap.keystore.pass", "connect.coap.truststore.pass", "connect.coap.dtls.private.key.pass")
    } == {"[hidden]"}
