"""Config keys of the CoAP sink: every ``connect.coap.*`` key of the Stream Reactor connector.

Defaults follow the connector's ``CoapConfig.scala`` (see reference-coap-connector.md A.1).
``connect.coap.uri`` has a default of ``localhost`` there, which cannot work (no scheme); here it
is required and must be a coap:// or coaps:// URI.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field

from streamapp.config.model import SinkConnectorConfig
from streamapp.config.types import ConnectList, Password, upper

__all__ = ["CoapSinkConfig", "SINK_CLASS"]

SINK_CLASS = "com.datamountaineer.streamreactor.connect.coap.sink.CoapSinkConnector"


def _coap_uri(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("coap", "coaps") or not parts.hostname:
        raise ValueError(f"'{value}' is not a CoAP URI; expected coap://host[:port] or coaps://host[:port]")
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
