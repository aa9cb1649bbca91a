"""Config keys of the CoAP sink: every ``connect.coap.*`` key of the Stream Reactor connector, plus ours.

Defaults follow the connector's ``CoapConfig.scala`` (see reference-coap-connector.md A.1).
``connect.coap.uri`` has a default of ``localhost`` there, which cannot work (no scheme); here it
is required and must be a coap:// or coaps:// URI.

Checked when the config is loaded (``streamapp check-config`` and worker start), so a mistake
never waits for the first record:

* ``connect.coap.kcql`` parses (errors give line, column and a caret excerpt), and its ``FROM``
  topics agree with ``topics`` in both directions (Connect's ``Helpers.checkInputTopics``), or
  each match ``topics.regex``. One topic may feed several resources (several statements).
* ``coaps://`` uses DTLS 1.2. As in the Stream Reactor connector, a set ``connect.coap.username``
  selects a pre-shared key (``connect.coap.password`` is the secret); otherwise certificates
  (:mod:`streamapp.coap.dtls_x509`): the client identity from ``connect.coap.keystore.path`` /
  ``.pass`` / ``connect.coap.cert.chain.key`` (JKS or PKCS#12; JCEKS is refused with the keytool
  command that converts it) or from PEM files, and the trust anchors from
  ``connect.coap.truststore.path`` / ``.pass`` / ``connect.coap.certs`` (aliases; empty: every
  certificate in the truststore) and/or a PEM CA bundle. The files are read and checked here: a
  missing file, a wrong password or a missing alias is an error naming the key.
* ``connect.coap.public.key.file`` / ``private.key.file`` (raw public keys, RFC 7250) are refused:
  no maintained Python DTLS library offers them.

Keys for certificate DTLS beyond the Stream Reactor connector (for users without Java tooling):

========================================  =======  ===========================================
``connect.coap.dtls.certificate.chain.file``       PEM: the client certificate, then its
                                                   intermediates (instead of a keystore)
``connect.coap.dtls.private.key.file``             PEM: its private key (PKCS#8)
``connect.coap.dtls.private.key.pass``             password of an encrypted private key
``connect.coap.dtls.ca.file``                      PEM: trusted CA certificates (with or
                                                   instead of a truststore)
``connect.coap.dtls.verify.hostname``     true     the server certificate must name the URI's
                                                   host name or IP address (subjectAltName)
``connect.coap.dtls.cipher.suites``                OpenSSL cipher list (empty: OpenSSL's
                                                   defaults), e.g. ``ECDHE-ECDSA-AES128-GCM-SHA256``
========================================  =======  ===========================================

Keys beyond the Stream Reactor connector:

=================================  =========  ==================================================
``connect.coap.method``            PUT        PUT or POST
``connect.coap.confirmable``       true       confirmable (CON) requests, retransmitted until
                                              acknowledged; false sends NON requests
``connect.coap.request.timeout.ms``  10000    a request without a response by then is an error
                                              (also bounds a DTLS handshake that cannot succeed)
``connect.coap.max.in.flight``     32         requests in flight at once, over as many client
                                              endpoints (aiocoap sends one at a time per endpoint)
``connect.coap.ordering``          resource   ``resource``: records for one resource are sent one
                                              at a time in Kafka order; ``partition``: one at a
                                              time per resource *and* Kafka partition (Kafka's
                                              own ordering; more in flight for one resource)
``connect.progress.interval.ms``   60000      how often ``connect.progress.enabled`` logs
=================================  =========  ==================================================
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PrivateAttr,
    model_validator,
)

from streamapp import kcql
from streamapp.coap.dtls_x509 import X509Client, X509Settings
from streamapp.config.model import SinkConnectorConfig
from streamapp.config.types import ConnectList, KeyedError, Password, lower, upper
from streamapp.tls.stores import (
    StoreError,
    read_keystore,
    read_pem_certificates,
    read_pem_private_key,
)

__all__ = ["RAW_PUBLIC_KEY_KEYS", "SINK_CLASS", "CoapSinkConfig"]

SINK_CLASS = "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector"

# Raw public keys (RFC 7250): neither pyOpenSSL nor python-mbedtls offers them.
RAW_PUBLIC_KEY_KEYS = {
    "public_key_file": "connect.coap.public.key.file",
    "private_key_file": "connect.coap.private.key.file",
}
_NO_CLIENT_CERTIFICATE = (
    "no client certificate is configured: set connect.coap.keystore.path (with connect.coap.keystore.pass and "
    "connect.coap.cert.chain.key), or connect.coap.dtls.certificate.chain.file and connect.coap.dtls.private.key.file"
)
_DISCOVERY_HOSTS = {"discoverip4", "discoverip6"}


def _coap_uri(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("coap", "coaps") or not parts.hostname:
        raise ValueError(f"'{value}' is not a CoAP URI; expected coap://host[:port] or coaps://host[:port]")
    if parts.hostname in _DISCOVERY_HOSTS:
        raise ValueError(
            f"server discovery ('{parts.hostname}') is not supported; give the server's address, e.g. coap://host:5683"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"'{value}' has a query or fragment; the URI is a base that KCQL resource paths are added to")
    try:
        parts.port  # noqa: B018 -- raises for a port out of range
    except ValueError as exc:
        raise ValueError(f"'{value}': {exc}") from None
    return value


class CoapSinkConfig(SinkConnectorConfig):
    uri: Annotated[str, AfterValidator(_coap_uri)] = Field(
        ..., alias="connect.coap.uri", description="Base URI of the CoAP server (coap:// or coaps://)."
    )
    kcql: str = Field(
        ..., alias="connect.coap.kcql", min_length=1, description="KCQL statements routing topics to resources."
    )
    port: int = Field(0, alias="connect.coap.port", ge=0, le=65535, description="Local DTLS bind port (0: any).")
    host: str = Field("localhost", alias="connect.coap.host", min_length=1, description="Local DTLS bind host.")
    username: str = Field("", alias="connect.coap.username", description="DTLS PSK identity.")
    password: Password = Field(Password(""), alias="connect.coap.password", description="DTLS PSK secret.")
    public_key_file: str = Field("", alias="connect.coap.public.key.file", description="Raw public key (PEM).")
    private_key_file: str = Field("", alias="connect.coap.private.key.file", description="Private key (PEM, PKCS#8).")
    keystore_path: str = Field("", alias="connect.coap.keystore.path", description="Keystore with the client key.")
    keystore_pass: Password = Field(Password("rootPass"), alias="connect.coap.keystore.pass")
    truststore_path: str = Field("", alias="connect.coap.truststore.path", description="Truststore of trusted CAs.")
    truststore_pass: Password = Field(Password("rootPass"), alias="connect.coap.truststore.pass")
    certs: ConnectList = Field([], alias="connect.coap.certs", description="Truststore aliases to trust.")
    cert_chain_key: str = Field(
        "client", alias="connect.coap.cert.chain.key", description="Keystore alias of the client key."
    )
    error_policy: Annotated[Literal["NOOP", "THROW", "RETRY"], BeforeValidator(upper)] = Field(
        "THROW", alias="connect.coap.error.policy", description="What a failed write does: NOOP, THROW or RETRY."
    )
    max_retries: int = Field(20, alias="connect.coap.max.retries", ge=0, description="Retries under RETRY.")
    retry_interval: int = Field(60000, alias="connect.coap.retry.interval", ge=0, description="ms between retries.")
    progress_enabled: bool = Field(False, alias="connect.progress.enabled", description="Log progress counts.")

    # -- beyond the Stream Reactor connector
    method: Annotated[Literal["PUT", "POST"], BeforeValidator(upper)] = Field(
        "PUT", alias="connect.coap.method", description="Request method: PUT or POST."
    )
    confirmable: bool = Field(
        True, alias="connect.coap.confirmable", description="Confirmable (CON) requests; false sends NON requests."
    )
    request_timeout_ms: int = Field(
        10000,
        alias="connect.coap.request.timeout.ms",
        ge=1,
        description="ms to wait for a response (including a DTLS handshake) before the request is an error.",
    )
    max_in_flight: int = Field(
        32,
        alias="connect.coap.max.in.flight",
        ge=1,
        le=1024,
        description="Requests in flight at once, each on its own client endpoint.",
    )
    ordering: Annotated[Literal["resource", "partition"], BeforeValidator(lower)] = Field(
        "resource",
        alias="connect.coap.ordering",
        description="One request at a time per resource, or per resource and Kafka partition.",
    )
    progress_interval_ms: int = Field(
        60000, alias="connect.progress.interval.ms", ge=100, description="ms between progress log lines."
    )
    dtls_certificate_chain_file: str = Field(
        "", alias="connect.coap.dtls.certificate.chain.file", description="PEM client certificate chain."
    )
    dtls_private_key_file: str = Field(
        "", alias="connect.coap.dtls.private.key.file", description="PEM (PKCS#8) private key of the client."
    )
    dtls_private_key_pass: Password = Field(
        Password(""), alias="connect.coap.dtls.private.key.pass", description="Password of that private key."
    )
    dtls_ca_file: str = Field("", alias="connect.coap.dtls.ca.file", description="PEM bundle of trusted CAs.")
    dtls_verify_hostname: bool = Field(
        True, alias="connect.coap.dtls.verify.hostname", description="Check the server certificate names the URI host."
    )
    dtls_cipher_suites: str = Field(
        "", alias="connect.coap.dtls.cipher.suites", description="OpenSSL cipher list (empty: OpenSSL's defaults)."
    )
    _x509: X509Settings | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _coap_checks(self) -> CoapSinkConfig:
        statements = self._parsed()
        self._no_repeated_routes(statements)
        self._topics_agree(statements)
        for name, key in RAW_PUBLIC_KEY_KEYS.items():
            if getattr(self, name):
                raise KeyedError(
                    key,
                    "raw public keys (RFC 7250) are not supported: no maintained Python DTLS library offers them "
                    "(pyOpenSSL does not expose OpenSSL's, Mbed TLS has none); remove it and use a certificate for "
                    "the key pair (connect.coap.dtls.certificate.chain.file and connect.coap.dtls.private.key.file, "
                    "or connect.coap.keystore.path) or a pre-shared key (connect.coap.username, connect.coap.password)",
                )
        if self.is_secure and self.username:  # the Stream Reactor rule: a username selects a pre-shared key
            if not self.password.get_secret_value():
                raise KeyedError(
                    "connect.coap.password",
                    "a coaps:// URI with connect.coap.username needs connect.coap.password (the PSK secret)",
                )
        elif self.is_secure:
            self._x509 = self._certificates()
        return self

    def _certificates(self) -> X509Settings:
        """Read the client identity and trust anchors (files checked now, errors naming the key)."""
        if not (self.truststore_path or self.dtls_ca_file or self.keystore_path or self.dtls_certificate_chain_file):
            raise KeyedError(
                "connect.coap.username",
                "a coaps:// URI needs a pre-shared key (connect.coap.username, connect.coap.password) or certificates "
                "(trust anchors in connect.coap.truststore.path or connect.coap.dtls.ca.file, and a client "
                "certificate in connect.coap.keystore.path or connect.coap.dtls.certificate.chain.file)",
            )
        chain: tuple = ()
        key = None
        identity = _NO_CLIENT_CERTIFICATE
        pem_identity = self.dtls_certificate_chain_file or self.dtls_private_key_file
        if self.keystore_path and pem_identity:
            raise KeyedError(
                "connect.coap.dtls.certificate.chain.file",
                "set either connect.coap.keystore.path or "
                "PEM files (connect.coap.dtls.certificate.chain.file/.private.key.file), not both",
            )
        if self.keystore_path:
            store = _stores(
                read_keystore,
                self.keystore_path,
                self.keystore_pass.get_secret_value(),
                file="connect.coap.keystore.path",
                password="connect.coap.keystore.pass",
            )
            key, chain = _stores(store.key_entry, self.cert_chain_key, alias="connect.coap.cert.chain.key")
            identity = f"keystore '{self.keystore_path}', alias '{self.cert_chain_key}'"
        elif pem_identity:
            if not (self.dtls_certificate_chain_file and self.dtls_private_key_file):
                missing = (
                    "connect.coap.dtls.private.key.file"
                    if self.dtls_certificate_chain_file
                    else "connect.coap.dtls.certificate.chain.file"
                )
                raise KeyedError(
                    missing,
                    "a PEM client certificate needs both "
                    "connect.coap.dtls.certificate.chain.file and connect.coap.dtls.private.key.file",
                )
            chain = _stores(
                read_pem_certificates, self.dtls_certificate_chain_file, file="connect.coap.dtls.certificate.chain.file"
            )
            key = _stores(
                read_pem_private_key,
                self.dtls_private_key_file,
                self.dtls_private_key_pass.get_secret_value() or None,
                file="connect.coap.dtls.private.key.file",
                password="connect.coap.dtls.private.key.pass",
            )
            identity = f"'{self.dtls_certificate_chain_file}'"
        trust: list = []
        sources = []
        if self.truststore_path:
            store = _stores(
                read_keystore,
                self.truststore_path,
                self.truststore_pass.get_secret_value(),
                file="connect.coap.truststore.path",
                password="connect.coap.truststore.pass",
            )
            trust.extend(
                _stores(
                    store.trusted, list(self.certs), file="connect.coap.truststore.path", alias="connect.coap.certs"
                )
            )
            aliases = f" (aliases {', '.join(self.certs)})" if self.certs else ""
            sources.append(f"truststore '{self.truststore_path}'{aliases}")
        elif self.certs:
            raise KeyedError(
                "connect.coap.certs",
                "connect.coap.certs names truststore aliases: set connect.coap.truststore.path too",
            )
        if self.dtls_ca_file:
            bundle = _stores(read_pem_certificates, self.dtls_ca_file, file="connect.coap.dtls.ca.file")
            trust.extend(bundle)
            sources.append(f"'{self.dtls_ca_file}'")
        if not trust:
            raise KeyedError(
                "connect.coap.truststore.path",
                "a coaps:// URI with certificates needs trust anchors "
                "for the server: connect.coap.truststore.path or connect.coap.dtls.ca.file",
            )
        settings = X509Settings(
            tuple(chain),
            key,
            tuple(trust),
            ciphers=self.dtls_cipher_suites or None,
            verify_hostname=self.dtls_verify_hostname,
            identity_source=identity,
            trust_source=" and ".join(sources),
        )
        try:
            X509Client(settings)  # OpenSSL's own checks: the key matches the certificate, the cipher list
        except ValueError as exc:
            raise KeyedError(
                "connect.coap.dtls.cipher.suites"
                if "cipher" in str(exc)
                else ("connect.coap.keystore.path" if self.keystore_path else "connect.coap.dtls.private.key.file"),
                str(exc),
            ) from None
        return settings

    def _parsed(self) -> tuple[kcql.Statement, ...]:
        try:
            return kcql.parse(self.kcql)
        except kcql.KcqlSyntaxError as exc:
            raise KeyedError("connect.coap.kcql", str(exc)) from None

    def _no_repeated_routes(self, statements: tuple[kcql.Statement, ...]) -> None:
        seen: dict[tuple[str, str], kcql.Statement] = {}
        for statement in statements:
            earlier = seen.setdefault((statement.source, statement.target), statement)
            if earlier is not statement:
                raise KeyedError(
                    "connect.coap.kcql",
                    f"statements {earlier.index} and {statement.index} both send topic '{statement.source}' to "
                    f"resource '{statement.target}': every record would be written there twice; keep one",
                )

    def _topics_agree(self, statements: tuple[kcql.Statement, ...]) -> None:
        sources = list(dict.fromkeys(s.source for s in statements))
        if self.topics:
            unread = [t for t in self.topics if t not in sources]
            unknown = [s for s in sources if s not in self.topics]
            problems = []
            if unknown:
                problems.append(f"KCQL reads {_names(unknown)}, not listed in 'topics'")
            if unread:
                problems.append(f"'topics' lists {_names(unread)}, which no KCQL statement reads (FROM)")
            if problems:
                raise KeyedError(
                    "connect.coap.kcql",
                    "the KCQL source topics and 'topics' must be the same: "
                    + "; ".join(problems)
                    + f" (KCQL: {', '.join(sources)}; topics: {', '.join(self.topics)})",
                )
        elif self.topics_regex:
            outside = [s for s in sources if not re.fullmatch(self.topics_regex, s)]
            if outside:
                raise KeyedError(
                    "connect.coap.kcql",
                    f"KCQL reads {_names(outside)}, which 'topics.regex' ({self.topics_regex}) does not match",
                )

    # -- for the sink

    @property
    def is_secure(self) -> bool:
        return urlsplit(self.uri).scheme == "coaps"

    @property
    def x509(self) -> X509Settings | None:
        """The certificates for coaps:// (None: plain coap://, or a pre-shared key)."""
        return self._x509

    def statements(self) -> tuple[kcql.Statement, ...]:
        """The parsed KCQL (valid: the config was checked when loaded)."""
        return kcql.parse(self.kcql)


def _stores(function, *args, **keys: str):  # type: ignore[no-untyped-def]
    """Call a :mod:`~streamapp.tls.stores` reader; its error blames the key of the part at fault."""
    try:
        return function(*args)
    except StoreError as exc:
        raise KeyedError(keys.get(exc.part) or next(iter(keys.values())), str(exc)) from None


def _names(items: list[str]) -> str:
    quoted = ", ".join(f"'{i}'" for i in items)
    return f"topic {quoted}" if len(items) == 1 else f"topics {quoted}"
