"""Config keys of the CoAP sink: every ``connect.coap.*`` key of the Stream Reactor connector, plus ours.

Defaults follow the connector's ``CoapConfig.scala`` (see reference-coap-connector.md A.1).
``connect.coap.uri`` has a default of ``localhost`` there, which cannot work (no scheme); here it
is required and must be a coap:// or coaps:// URI.

Checked when the config is loaded (``streamapp check-config`` and worker start), so a mistake
never waits for the first record:

* ``connect.coap.kcql`` parses (errors give line, column and a caret excerpt), and its ``FROM``
  topics agree with ``topics`` in both directions (Connect's ``Helpers.checkInputTopics``), or
  each match ``topics.regex``. One topic may feed several resources (several statements).
* ``coaps://`` needs a pre-shared key: ``connect.coap.username`` (PSK identity) and
  ``connect.coap.password`` (PSK secret). Certificate DTLS is not built yet: setting
  ``connect.coap.keystore.path``, ``truststore.path``, ``certs``, ``public.key.file`` or
  ``private.key.file`` is an error saying so. ``keystore.pass``, ``truststore.pass`` and
  ``cert.chain.key`` are accepted (they only ever applied with a keystore).

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

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from streamapp import kcql
from streamapp.config.model import SinkConnectorConfig
from streamapp.config.types import ConnectList, KeyedError, Password, lower, upper

__all__ = ["CERTIFICATE_KEYS", "SINK_CLASS", "CoapSinkConfig"]

SINK_CLASS = "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector"

# Keys of certificate DTLS (Californium keystores, raw public keys): not built yet.
CERTIFICATE_KEYS = {
    "keystore_path": "connect.coap.keystore.path",
    "truststore_path": "connect.coap.truststore.path",
    "certs": "connect.coap.certs",
    "public_key_file": "connect.coap.public.key.file",
    "private_key_file": "connect.coap.private.key.file",
}
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

    @model_validator(mode="after")
    def _coap_checks(self) -> CoapSinkConfig:
        statements = self._parsed()
        self._no_repeated_routes(statements)
        self._topics_agree(statements)
        for name, key in CERTIFICATE_KEYS.items():
            if getattr(self, name):
                others = [k for n, k in CERTIFICATE_KEYS.items() if getattr(self, n) and k != key]
                also = f" (also set: {', '.join(others)})" if others else ""
                raise KeyedError(
                    key,
                    "certificate DTLS (keystores, truststores, raw public keys) is not built yet in streamapp; "
                    f"remove it{also} and use a pre-shared key: connect.coap.username (PSK identity) and "
                    "connect.coap.password (PSK secret) with a coaps:// URI",
                )
        if self.is_secure and not (self.username and self.password.get_secret_value()):
            raise KeyedError(
                "connect.coap.username" if not self.username else "connect.coap.password",
                "a coaps:// URI needs a pre-shared key: set connect.coap.username (PSK identity) and "
                "connect.coap.password (PSK secret); certificate DTLS is not built yet",
            )
        return self

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

    def statements(self) -> tuple[kcql.Statement, ...]:
        """The parsed KCQL (valid: the config was checked when loaded)."""
        return kcql.parse(self.kcql)


def _names(items: list[str]) -> str:
    quoted = ", ".join(f"'{i}'" for i in items)
    return f"topic {quoted}" if len(items) == 1 else f"topics {quoted}"
