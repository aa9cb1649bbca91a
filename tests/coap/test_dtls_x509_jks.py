"""The JKS reader against files made by Java's keytool, and against damaged ones."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from streamapp.tls.jks import JksError, read_jks
from tests.fixtures.pki import STORE_PASSWORD


def _public(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_key_entry_and_trusted_certificates(pki, jks_stores):
    keystore, truststore = jks_stores
    keys, certificates = read_jks(Path(keystore).read_bytes(), STORE_PASSWORD, keystore)
    assert list(keys) == ["client"] and certificates == {}
    key, chain = keys["client"]
    assert chain == (pki.client, pki.ca)
    assert _public(key) == pki.client.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    keys, certificates = read_jks(Path(truststore).read_bytes(), STORE_PASSWORD, truststore)
    assert keys == {} and certificates["root"] == pki.ca and set(certificates) == {"root", "other"}


def test_a_key_password_other_than_the_store_password_is_named(pki, tmp_path, jks_stores):
    keytool = shutil.which("keytool")
    assert keytool is not None  # jks_stores skipped otherwise
    path = tmp_path / "two-passwords.jks"
    subprocess.run(
        [
            keytool,
            "-importkeystore",
            "-noprompt",
            "-srckeystore",
            pki.path("keystore.p12"),
            "-srcstoretype",
            "pkcs12",
            "-srcstorepass",
            STORE_PASSWORD,
            "-destkeystore",
            str(path),
            "-deststoretype",
            "jks",
            "-deststorepass",
            STORE_PASSWORD,
            "-destkeypass",
            "another-pass",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with pytest.raises(
        JksError, match=f"the keystore password does not open key entry 'client' of '{path}'"
    ) as failure:
        read_jks(path.read_bytes(), STORE_PASSWORD, str(path))
    assert failure.value.part == "password"


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-1], "wrong password for keystore"),  # the trailer no longer matches
        (lambda data: b"\x00" + data[1:], "is not a JKS keystore"),
        (lambda data: data[:10], "wrong password for keystore"),
    ],
)
def test_damaged_files(jks_stores, damage, message):
    data = Path(jks_stores[0]).read_bytes()
    with pytest.raises(JksError, match=message):
        read_jks(damage(data), STORE_PASSWORD, "k.jks")
