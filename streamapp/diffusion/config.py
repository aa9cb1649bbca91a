"""Config keys of the Diffusion sink and source (the seed's keys plus Connect's).

Keys, defaults and semantics follow the Java connector (``DiffusionConfig.java``); unlike it,
values are checked: the URL must be ws:// or wss://, the poll settings must be positive.

wss:// always verifies the server (:mod:`streamapp.diffusion.tls`): its certificate chain against
the system trust store, or against a private CA given with Kafka's client keys under the
``diffusion.`` prefix, and its host name:

================================================  =======  ======================================
``diffusion.ssl.truststore.location``                      truststore file with the CA
                                                           certificates to trust instead of the
                                                           system trust store
``diffusion.ssl.truststore.type``                 JKS      PEM, JKS or PKCS12 (Kafka's default;
                                                           JKS and PKCS12 files are told apart by
                                                           content, as Java 9+ does)
``diffusion.ssl.truststore.password``                      password of a JKS or PKCS12
                                                           truststore; none for PEM (as Kafka); a
                                                           JKS truststore without one is read
                                                           unchecked, as Java does
``diffusion.ssl.endpoint.identification.algorithm``  https  ``https``: the certificate must name
                                                           the URL's host; empty: it need not
                                                           (a warning; the chain is still checked)
================================================  =======  ======================================

The truststore is read when the config is loaded (``streamapp check-config`` and worker start): a
missing, unreadable or mistyped file, or a wrong password, is an error naming the key and the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, PrivateAttr, field_validator, model_validator

from streamapp.config.model import SinkConnectorConfig, SourceConnectorConfig
from streamapp.config.types import ConnectList, KeyedError, Password, lower, upper
from streamapp.diffusion.tls import TlsSettings
from streamapp.tls.jks import JKS_MAGIC
from streamapp.tls.stores import StoreError, read_keystore, read_pem_certificates

__all__ = ["DiffusionSinkConfig", "DiffusionSourceConfig", "SINK_CLASS", "SOURCE_CLASS"]

SINK_CLASS = "com.diffusiondata.connect.diffusion.sink.DiffusionSinkConnector"
SOURCE_CLASS = "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector"


def _ws_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"'{value}' is not a Diffusion URL; expected ws://host:port or wss://host[:port]")
    return value


DiffusionUrl = Annotated[str, AfterValidator(_ws_url)]


_LOCATION = "diffusion.ssl.truststore.location"
_TYPE = "diffusion.ssl.truststore.type"
_PASSWORD = "diffusion.ssl.truststore.password"
_ALGORITHM = "diffusion.ssl.endpoint.identification.algorithm"


def _algorithm(value: str) -> str:
    if value not in ("https", ""):
        raise ValueError(
            f"'{value}' is not an endpoint identification algorithm: use https (the server's certificate must "
            "name the URL's host) or leave it empty (no host name check; not recommended)"
        )
    return value


class DiffusionTlsKeys(BaseModel):
    """The wss:// keys shared by the sink and the source (see the module docstring)."""

    ssl_truststore_location: str = Field(
        "",
        alias=_LOCATION,
        description="Truststore with the CA certificates that issue the Diffusion server's certificate "
        "(empty: the system trust store).",
    )
    ssl_truststore_type: Annotated[Literal["PEM", "JKS", "PKCS12"], BeforeValidator(upper)] = Field(
        "JKS", alias=_TYPE, description="Format of the truststore: PEM, JKS or PKCS12."
    )
    ssl_truststore_password: Password = Field(
        Password(""), alias=_PASSWORD, description="Password of a JKS or PKCS12 truststore."
    )
    ssl_endpoint_identification_algorithm: Annotated[str, BeforeValidator(lower), AfterValidator(_algorithm)] = Field(
        "https",
        alias=_ALGORITHM,
        description="https: the server's certificate must name the URL's host; empty: no host name check.",
    )
    _tls: TlsSettings = PrivateAttr(default_factory=TlsSettings)

    @model_validator(mode="after")
    def _read_truststore(self) -> DiffusionTlsKeys:
        check_hostname = self.ssl_endpoint_identification_algorithm == "https"
        location = self.ssl_truststore_location
        if not location:
            self._tls = TlsSettings(check_hostname=check_hostname)
            return self
        kind = self.ssl_truststore_type
        password = self.ssl_truststore_password.get_secret_value()
        head = _head(location)
        if kind == "PEM":
            if password:
                raise KeyedError(_PASSWORD, f"a PEM truststore has no password (as in Kafka); remove {_PASSWORD}")
            if head[:4] == JKS_MAGIC or head[:1] == b"\x30":
                raise KeyedError(
                    _TYPE, f"'{location}' is a JKS or PKCS#12 truststore, not PEM: set {_TYPE}=JKS or PKCS12"
                )
            anchors = _stores(read_pem_certificates, location)
        else:
            if head.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
                raise KeyedError(_TYPE, f"'{location}' is a PEM file, not a {kind} truststore: set {_TYPE}=PEM")
            store = _stores(read_keystore, location, password or None)
            anchors = _stores(store.trusted, [])
        self._tls = TlsSettings(tuple(anchors), f"truststore '{location}' ({_LOCATION})", check_hostname)
        try:
            self._tls.client_context()  # OpenSSL's own check of the certificates
        except Exception as exc:  # noqa: BLE001 -- ssl.SSLError and ValueError: the message says it
            raise KeyedError(_LOCATION, f"OpenSSL cannot use the certificates of '{location}': {exc}") from None
        return self

    @property
    def tls(self) -> TlsSettings:
        """What wss:// sessions trust (the truststore's certificates, read when the config was loaded)."""
        return self._tls

    def config_warnings(self) -> list[str]:
        """Settings that work but weaken or do nothing (printed by check-config and logged at start)."""
        url = getattr(self, "diffusion_url", "")
        fields = type(self).model_fields
        given = sorted(
            alias
            for alias in (fields[name].alias or name for name in self.model_fields_set)
            if alias.startswith("diffusion.ssl.")
        )
        if urlsplit(url).scheme != "wss":
            return [f"{', '.join(given)}: apply to wss:// URLs only; '{url}' is not one"] if given else []
        warnings = []
        unused = [key for key in given if key in (_TYPE, _PASSWORD)]
        if unused and not self.ssl_truststore_location:
            warnings.append(f"{', '.join(unused)}: ignored without {_LOCATION} (the system trust store is used)")
        if not self.tls.check_hostname:
            warnings.append(
                f"{_ALGORITHM} is empty: the host name of '{url}' is not checked against the server's "
                "certificate, so any server with a certificate from a trusted CA can take the session (and its "
                "password)"
            )
        return warnings


def _head(path: str) -> bytes:
    """The first bytes of ``path`` to tell formats apart; empty when unreadable (the reader then says why)."""
    try:
        with Path(path).open("rb") as f:
            return f.read(64)
    except OSError:
        return b""


def _stores(function, *args):  # type: ignore[no-untyped-def]
    """Call a :mod:`streamapp.tls.stores` reader; its error blames the key of the part at fault."""
    try:
        return function(*args)
    except StoreError as exc:
        raise KeyedError(_PASSWORD if exc.part == "password" else _LOCATION, str(exc)) from None


# Topic specification properties the SDK accepts (diffusion TopicSpecification fields).
TOPIC_PROPERTIES = (
    "PUBLISH_VALUES_ONLY",
    "VALIDATE_VALUES",
    "TIDY_ON_UNSUBSCRIBE",
    "SCHEMA",
    "DONT_RETAIN_VALUE",
    "PERSISTENT",
    "REMOVAL",
    "CONFLATION",
    "OWNER",
    "COMPRESSION",
    "PRIORITY",
)


def _topic_properties(value: list[str]) -> list[str]:
    for item in value:
        name, sep, _ = item.partition("=")
        if not sep or name.strip().upper() not in TOPIC_PROPERTIES:
            raise ValueError(f"'{item}' is not NAME=VALUE with NAME one of {', '.join(TOPIC_PROPERTIES)}")
    return value


class DiffusionSinkConfig(SinkConnectorConfig, DiffusionTlsKeys):
    diffusion_url: DiffusionUrl = Field(
        ..., alias="diffusion.url", description="Diffusion server URL (ws:// or wss://)."
    )
    diffusion_username: str = Field(..., alias="diffusion.username", description="Principal to authenticate as.")
    diffusion_password: Password = Field(..., alias="diffusion.password", description="Password of the principal.")
    diffusion_destination: str = Field(
        ...,
        alias="diffusion.destination",
        min_length=1,
        description="Diffusion topic path pattern; tokens ${topic}, ${key}, ${key.version}, ${value.version}, "
        "${partition}, ${offset}.",
    )
    diffusion_tombstone_policy: Annotated[Literal["null", "remove"], BeforeValidator(lower)] = Field(
        "null",
        alias="diffusion.tombstone.policy",
        description="A record with a null value publishes JSON null (null, as the Java connector) or removes the "
        "topic (remove).",
    )
    diffusion_topic_type: Annotated[Literal["json", "string", "int64", "double", "binary"], BeforeValidator(lower)] = (
        Field("json", alias="diffusion.topic.type", description="Type of the Diffusion topics created and updated.")
    )
    diffusion_topic_properties: Annotated[ConnectList, AfterValidator(_topic_properties)] = Field(
        [],
        alias="diffusion.topic.properties",
        description="Properties of created topics, comma-separated NAME=VALUE "
        "(e.g. PERSISTENT=false,DONT_RETAIN_VALUE=true).",
    )
    diffusion_max_in_flight: int = Field(
        100, alias="diffusion.max.in.flight", ge=1, le=10000, description="Updates awaiting confirmation at once."
    )
    diffusion_request_timeout_ms: int = Field(
        10000,
        alias="diffusion.request.timeout.ms",
        ge=100,
        description="ms to wait for Diffusion to confirm one update.",
    )
    diffusion_reconnect_backoff_max_ms: int = Field(
        10000,
        alias="diffusion.reconnect.backoff.max.ms",
        ge=100,
        description="Longest wait between reconnection attempts.",
    )
    diffusion_conflate: bool = Field(
        False,
        alias="diffusion.conflate",
        description="While a topic's update is in flight (or, catching up, for up to 0.25 s), newer records for it "
        "replace each other and only the newest is sent; replaced records are acked once it is confirmed.",
    )

    @field_validator("diffusion_destination")
    @classmethod
    def _destination_tokens(cls, value: str) -> str:
        from .destinations import DestinationPattern

        DestinationPattern.parse(value)  # unknown tokens are a config error at startup
        return value

    def topic_properties(self) -> dict[str, str]:
        return {
            k.strip().upper(): v.strip()
            for k, v in (item.partition("=")[::2] for item in self.diffusion_topic_properties)
        }


class DiffusionSourceConfig(SourceConnectorConfig, DiffusionTlsKeys):
    diffusion_url: DiffusionUrl = Field(
        ..., alias="diffusion.url", description="Diffusion server URL (ws:// or wss://)."
    )
    diffusion_username: str = Field(..., alias="diffusion.username", description="Principal to authenticate as.")
    diffusion_password: Password = Field(..., alias="diffusion.password", description="Password of the principal.")
    diffusion_selector: str = Field(
        ..., alias="diffusion.selector", min_length=1, description="Topic selector of the Diffusion topics to read."
    )
    kafka_topic: str = Field(
        ..., alias="kafka.topic", min_length=1, description="Kafka topic pattern; ${topic} is the Diffusion path."
    )
    diffusion_poll_interval: int = Field(
        1000,
        alias="diffusion.poll.interval",
        ge=1,
        description="Accepted as Connect's (ms between polls of an empty queue); the source drains as soon as updates "
        "are queued, so nothing waits for it.",
    )
    diffusion_poll_size: int = Field(
        128, alias="diffusion.poll.size", ge=1, description="Maximum records per batch sent to Kafka."
    )
    diffusion_removal_tombstone: bool = Field(
        False,
        alias="diffusion.removal.tombstone",
        description="A removed Diffusion topic produces a tombstone (null value) for its path.",
    )
    diffusion_queue_size: int = Field(
        10000,
        alias="diffusion.queue.size",
        ge=1,
        description="Updates queued between Diffusion and Kafka; beyond it, the latest value per topic replaces "
        "its queued one (conflation, counted).",
    )
    diffusion_reconnect_backoff_max_ms: int = Field(
        10000,
        alias="diffusion.reconnect.backoff.max.ms",
        ge=100,
        description="Longest wait between reconnection attempts.",
    )

    @field_validator("kafka_topic")
    @classmethod
    def _kafka_topic(cls, value: str) -> str:
        from .topic_names import KafkaTopicPattern, TopicNameError

        try:
            KafkaTopicPattern(value).validate_static()  # a fixed name that can never be legal is a config error
        except TopicNameError as exc:
            raise ValueError(str(exc)) from None
        return value
