"""Client identity and trust anchors from files: PEM, PKCS#12 and Java keystores.

Every function raises :class:`StoreError` with a one-line reason naming the file; its ``part``
says which setting is at fault (the ``file`` itself, its ``password``, or an ``alias``), so the
config layer can name the key.

* PEM: certificates (``-----BEGIN CERTIFICATE-----``, several in one file) and a private key in
  PKCS#8 (``BEGIN PRIVATE KEY`` or ``BEGIN ENCRYPTED PRIVATE KEY``; the traditional
  ``BEGIN EC/RSA PRIVATE KEY`` forms are read too).
* PKCS#12 (``.p12``/``.pfx``, Java's default keystore type since Java 9), read with
  ``cryptography``: a key entry's alias is its friendly name; a truststore's certificates are
  listed under theirs (keytool and ``serialize_java_truststore`` set them). ``cryptography``
  reads one key entry per file.
* JKS (Java's default before Java 9), read by :mod:`.jks`. JCEKS is refused with the keytool
  command that turns it into PKCS#12.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from .jks import JKS_MAGIC, JksError, read_jks

__all__ = ["Keystore", "StoreError", "read_keystore", "read_pem_certificates", "read_pem_private_key"]

_JCEKS_MAGIC = b"\xce\xce\xce\xce"


class StoreError(ValueError):
    def __init__(self, message: str, part: str = "file") -> None:
        super().__init__(message)
        self.part = part  # "file", "password" or "alias"


@dataclass
class Keystore:
    """The entries of a PKCS#12 file: key entries (alias -> key and chain) and trusted certificates."""

    path: str
    keys: dict[str, tuple[PrivateKeyTypes, tuple[x509.Certificate, ...]]] = field(default_factory=dict)
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)

    def key_entry(self, alias: str) -> tuple[PrivateKeyTypes, tuple[x509.Certificate, ...]]:
        try:
            return self.keys[alias]
        except KeyError:
            message = f"keystore '{self.path}' has no key entry '{alias}' ({_aliases(self.keys)})"
            raise StoreError(message, "alias") from None

    def trusted(self, aliases: list[str]) -> tuple[x509.Certificate, ...]:
        """The certificates of ``aliases``; all of them (key entries' chains included) when ``aliases`` is empty."""
        if not aliases:
            found = list(self.certificates.values())
            for _, chain in self.keys.values():
                found.extend(chain)
            if not found:
                raise StoreError(f"truststore '{self.path}' holds no certificate")
            return tuple(found)
        missing = [a for a in aliases if a not in self.certificates]
        if missing:
            raise StoreError(
                f"truststore '{self.path}' has no certificate {', '.join(repr(a) for a in missing)} "
                f"({_aliases(self.certificates)})",
                "alias",
            )
        return tuple(self.certificates[a] for a in aliases)


def _aliases(entries: dict) -> str:
    return "it has " + ", ".join(repr(a) for a in entries) if entries else "it has none"


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise StoreError(f"cannot read '{path}': {exc.strerror or exc}") from None


def read_pem_certificates(path: str) -> tuple[x509.Certificate, ...]:
    data = _read(path)
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise StoreError(f"'{path}' holds no PEM certificate (no -----BEGIN CERTIFICATE----- line)")
    try:
        return tuple(x509.load_pem_x509_certificates(data))
    except ValueError:
        raise StoreError(f"'{path}' holds a PEM certificate that cannot be read (damaged base64 or DER)") from None


def read_pem_private_key(path: str, password: str | None) -> PrivateKeyTypes:
    data = _read(path)
    if b"-----BEGIN" not in data:
        raise StoreError(f"'{path}' is not a PEM private key (no -----BEGIN line)")
    encrypted = b"ENCRYPTED" in data
    try:
        return serialization.load_pem_private_key(data, password.encode() if password and encrypted else None)
    except TypeError:
        raise StoreError(f"the private key in '{path}' is encrypted and no password is set", "password") from None
    except ValueError as exc:
        if encrypted:
            raise StoreError(f"wrong password for the private key in '{path}'", "password") from None
        raise StoreError(f"'{path}' holds no private key that can be read: {exc}") from None
    except Exception as exc:  # noqa: BLE001 -- cryptography raises UnsupportedAlgorithm and others
        raise StoreError(f"cannot read the private key in '{path}': {exc}") from None


def read_keystore(path: str, password: str | None) -> Keystore:
    """A PKCS#12 or JKS keystore or truststore (JCEKS is refused with how to convert it).

    ``password=None``: none is set; a JKS truststore is then read unchecked (see :func:`.jks.read_jks`)
    and a PKCS#12 file must not be encrypted.
    """
    data = _read(path)
    if data[:4] == JKS_MAGIC:
        try:
            keys, certificates = read_jks(data, password, path)
        except JksError as exc:
            raise StoreError(str(exc), exc.part) from None
        return Keystore(path, keys, certificates)
    if data[:4] == _JCEKS_MAGIC:
        raise StoreError(
            f"'{path}' is a JCEKS keystore; streamapp reads PKCS#12 and JKS: convert it with "
            f"`keytool -importkeystore -srckeystore {path} -srcstoretype jceks "
            f"-destkeystore {Path(path).with_suffix('.p12')} -deststoretype pkcs12` and point the setting at the "
            ".p12 file"
        )
    if not data[:1] == b"\x30":  # DER SEQUENCE
        raise StoreError(f"'{path}' is not a PKCS#12 or JKS keystore")
    try:
        loaded = pkcs12.load_pkcs12(data, password.encode() if password else None)
    except ValueError:
        if not password:
            raise StoreError(f"keystore '{path}' is encrypted and no password is set", "password") from None
        raise StoreError(f"wrong password for keystore '{path}' (or the file is damaged)", "password") from None
    store = Keystore(path)
    for entry in loaded.additional_certs:
        alias = entry.friendly_name.decode("utf-8", "replace") if entry.friendly_name else None
        if alias is not None:
            store.certificates[alias] = entry.certificate
    if loaded.key is not None and loaded.cert is not None:
        alias = loaded.cert.friendly_name.decode("utf-8", "replace") if loaded.cert.friendly_name else ""
        # The rest of the chain: unnamed certificates stored with the key (keytool writes them so).
        chain = [loaded.cert.certificate] + [e.certificate for e in loaded.additional_certs if not e.friendly_name]
        store.keys[alias] = (loaded.key, tuple(chain))
    return store
