"""Read Java's JKS keystores (``keytool -storetype jks``, the default before Java 9).

The format is fixed since JDK 1.2 (``sun.security.provider.JavaKeyStore``), all big-endian:

* header: magic ``FEEDFEED``, version (1 or 2), entry count;
* each entry: tag (1 private key, 2 trusted certificate), alias (Java ``writeUTF``: a 2-byte
  length and the bytes), an 8-byte timestamp, then
  * a private key: its protected form (length-prefixed ``EncryptedPrivateKeyInfo``) and its
    certificate chain (count, then per certificate its type "X.509" as ``writeUTF`` in version 2,
    and its length-prefixed DER);
  * a trusted certificate: type (version 2) and length-prefixed DER;
* a trailer: SHA-1 over the password (UTF-16BE), the words "Mighty Aphrodite" and all of the above.

A private key is protected with Sun's own scheme (OID 1.3.6.1.4.1.42.2.17.1.1): the encrypted
data is a 20-byte salt, the key XORed with a stream of chained SHA-1 digests of password and
salt, and a SHA-1 check of password and plain key; the plain key is PKCS#8 DER. The keystore's
password opens its key entries, as the Stream Reactor connector assumed.

No maintained library reads JKS (pyjks has had no release since 2020), so this module does, with
``cryptography`` for everything past the container.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

__all__ = ["JKS_MAGIC", "JksError", "read_jks"]

JKS_MAGIC = b"\xfe\xed\xfe\xed"
_SUN_KEY_PROTECTOR = bytes.fromhex("060a2b060104012a021101 01".replace(" ", ""))  # DER OID 1.3.6.1.4.1.42.2.17.1.1
_WHITENER = b"Mighty Aphrodite"
_DIGEST = 20  # SHA-1


class JksError(ValueError):
    def __init__(self, message: str, part: str = "file") -> None:
        super().__init__(message)
        self.part = part  # "file" or "password", as stores.StoreError


class _Reader:
    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.at, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if n < 0 or self.at + n > len(self.data):
            raise JksError(f"JKS keystore '{self.path}' is cut off or damaged")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def int(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def utf(self) -> str:
        return self.take(self.int(2)).decode("utf-8", "replace")

    def certificate(self, version: int) -> x509.Certificate:
        if version == 2:
            kind = self.utf()
            if kind != "X.509":
                raise JksError(f"JKS keystore '{self.path}' holds a '{kind}' certificate; only X.509 is supported")
        der = self.take(self.int(4))
        try:
            return x509.load_der_x509_certificate(der)
        except ValueError:
            raise JksError(f"JKS keystore '{self.path}' holds a certificate that cannot be read") from None


def _password_bytes(password: str) -> bytes:
    return password.encode("utf-16-be")  # Java chars, two bytes each


def read_jks(
    data: bytes, password: str | None, path: str
) -> tuple[dict[str, tuple[PrivateKeyTypes, tuple[x509.Certificate, ...]]], dict[str, x509.Certificate]]:
    """(key entries: alias -> (key, chain), trusted certificates: alias -> certificate) of a JKS file.

    ``password=None`` reads a truststore without checking its integrity, as Java's
    ``KeyStore.load(stream, null)`` does (Kafka's ``ssl.truststore.password`` is optional for
    that reason); key entries need the password.
    """
    if data[:4] != JKS_MAGIC:
        raise JksError(f"'{path}' is not a JKS keystore")
    body, trailer = data[:-_DIGEST], data[-_DIGEST:]
    if password is not None:
        check = hashlib.sha1(_password_bytes(password) + _WHITENER + body).digest()  # SHA-1: fixed by the format
        if not hmac.compare_digest(check, trailer):
            raise JksError(f"wrong password for keystore '{path}' (or the file is damaged)", "password")
    reader = _Reader(body, path)
    reader.take(4)
    version = reader.int(4)
    if version not in (1, 2):
        raise JksError(f"JKS keystore '{path}' has version {version}; expected 1 or 2")
    keys: dict[str, tuple[PrivateKeyTypes, tuple[x509.Certificate, ...]]] = {}
    certificates: dict[str, x509.Certificate] = {}
    for _ in range(reader.int(4)):
        tag = reader.int(4)
        alias = reader.utf()
        reader.take(8)  # creation time
        if tag == 1:
            protected = reader.take(reader.int(4))
            chain = tuple(reader.certificate(version) for _ in range(reader.int(4)))
            if password is None:
                raise JksError(f"key entry '{alias}' of '{path}' needs the keystore password", "password")
            keys[alias] = (_unprotect(protected, password, path, alias), chain)
        elif tag == 2:
            certificates[alias] = reader.certificate(version)
        else:
            raise JksError(f"JKS keystore '{path}' has an entry of unknown kind {tag} ('{alias}')")
    return keys, certificates


def _unprotect(protected: bytes, password: str, path: str, alias: str) -> PrivateKeyTypes:
    encrypted = _encrypted_data(protected, path, alias)
    if len(encrypted) < 2 * _DIGEST:
        raise JksError(f"key entry '{alias}' of '{path}' is damaged")
    salt, body, check = encrypted[:_DIGEST], encrypted[_DIGEST:-_DIGEST], encrypted[-_DIGEST:]
    secret = _password_bytes(password)
    stream = bytearray()
    digest = salt
    while len(stream) < len(body):
        digest = hashlib.sha1(secret + digest).digest()  # Sun's key protector is SHA-1 based
        stream.extend(digest)
    plain = bytes(a ^ b for a, b in zip(body, stream, strict=False))
    if not hmac.compare_digest(hashlib.sha1(secret + plain).digest(), check):
        raise JksError(f"the keystore password does not open key entry '{alias}' of '{path}'", "password")
    try:
        return serialization.load_der_private_key(plain, None)
    except (ValueError, TypeError) as exc:
        raise JksError(f"key entry '{alias}' of '{path}' cannot be read: {exc}") from None


def _der(data: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of the value, end of the value) of the DER element at ``at``."""
    if at + 2 > len(data):
        raise ValueError("truncated")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        size = length & 0x7F
        length, at = int.from_bytes(data[at : at + size], "big"), at + size
    if at + length > len(data):
        raise ValueError("truncated")
    return tag, at, at + length


def _encrypted_data(protected: bytes, path: str, alias: str) -> bytes:
    """The encrypted bytes of an ``EncryptedPrivateKeyInfo`` protected with Sun's key protector."""
    try:
        tag, start, _ = _der(protected, 0)  # EncryptedPrivateKeyInfo SEQUENCE
        algorithm_tag, algorithm_start, algorithm_end = _der(protected, start)  # AlgorithmIdentifier SEQUENCE
        _, oid_start, oid_end = _der(protected, algorithm_start)
        octets_tag, octets_start, octets_end = _der(protected, algorithm_end)
    except ValueError:
        raise JksError(f"key entry '{alias}' of '{path}' is damaged") from None
    if (tag, algorithm_tag, octets_tag) != (0x30, 0x30, 0x04):
        raise JksError(f"key entry '{alias}' of '{path}' is damaged")
    if protected[oid_start - 2 : oid_end] != _SUN_KEY_PROTECTOR:
        raise JksError(f"key entry '{alias}' of '{path}' is not protected with the JKS key protector")
    return protected[octets_start:octets_end]
