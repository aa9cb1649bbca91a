"""Worker settings: every ``STREAMAPP_*`` environment variable, typed and documented in one place.

Values come from the environment, then from ``settings/worker.env`` (relative to the working
directory, or the file named by ``STREAMAPP_ENV_FILE``), then the defaults below, which run the
embedded dev stack. ``streamapp settings`` prints the effective values (secrets hidden).
"""

from __future__ import annotations

import os
import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["WorkerSettings", "load_settings"]


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STREAMAPP_",
        env_file=os.environ.get("STREAMAPP_ENV_FILE", "settings/worker.env"),
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    app_id: str = Field("streamapp", min_length=1, description="Faust app id; also the Kafka consumer group id.")
    broker: str = Field(
        "kafka://127.0.0.1:9092",
        description="Kafka bootstrap servers, e.g. kafka://host1:9092;host2:9092 (Faust URL syntax).",
    )
    broker_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How to reach Kafka."
    )
    ssl_cafile: str | None = Field(None, description="CA bundle (PEM) that signed the brokers' certificates.")
    ssl_certfile: str | None = Field(None, description="Client certificate (PEM) for mutual TLS.")
    ssl_keyfile: str | None = Field(None, description="Client private key (PEM) for mutual TLS.")
    ssl_key_password: SecretStr | None = Field(None, description="Password of the client private key.")
    ssl_check_hostname: bool = Field(True, description="Verify the brokers' host names against their certificates.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field("PLAIN", description="SASL mechanism.")
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL password.")
    web_host: str = Field("0.0.0.0", description="Interface of the worker's web server (health, metrics, REST API).")
    web_port: int = Field(6066, ge=1, le=65535, description="Port of the worker's web server.")
    store: str = Field("memory://", description="Table store: memory:// or rocksdb:// (needs a persistent volume).")
    datadir: str = Field("streamapp-data", description="Directory for worker state (table stores).")
    topic_partitions: int = Field(8, ge=1, description="Partitions of the topics the app creates (tables, channels).")
    topic_replication_factor: int = Field(1, ge=1, description="Replication factor of the topics the app creates.")
    broker_session_timeout: float = Field(
        60.0, gt=0, description="Seconds without heartbeats before the group drops a worker (Kafka session timeout)."
    )
    broker_rebalance_timeout: float = Field(
        60.0, gt=0, description="Seconds the group waits for every worker to rejoin during a rebalance."
    )
    broker_heartbeat_interval: float = Field(
        3.0,
        gt=0,
        description="Seconds between heartbeats to the group coordinator; keep it under a third of the session "
        "timeout (Kafka's heartbeat.interval.ms).",
    )
    consumer_fetch_max_wait_ms: int = Field(
        500,
        ge=0,
        le=60000,
        description="Longest wait of an idle fetch (Kafka's fetch.max.wait.ms). Records end the wait at once; "
        "other requests to the same broker queue behind it, so long waits slow rebalances and startup.",
    )
    group_instance_id: str | None = Field(
        None,
        min_length=1,
        description="Kafka static group membership (group.instance.id): a stable name unique to this worker, such as "
        "its StatefulSet pod name. A worker back within the session timeout keeps its partitions: no rebalance.",
    )
    diffusion_sdk_log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "CRITICAL",
        description="Log level of the Diffusion SDK's own loggers. It logs every refused request (even the expected "
        "'no such topic' before a topic is created) as an ERROR with a traceback; streamapp logs what matters itself.",
    )
    connectors: str = Field(
        "settings/connectors/",
        description="Connector config files and/or directories, comma-separated.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token the web server requires (REST API, /metrics); /livez and /readyz stay open.",
    )
    api_username: str | None = Field(None, description="User name for HTTP basic auth of the web server.")
    api_password: SecretStr | None = Field(None, description="Password for HTTP basic auth of the web server.")
    status_interval: float = Field(
        2.0, gt=0, le=60, description="Seconds between a worker's status publications (REST API, streamapp status)."
    )
    health_rebalance_stuck: float = Field(
        300.0, gt=0, description="Seconds in one rebalance after which /livez reports the worker stuck."
    )
    status_url: str | None = Field(
        None, description="Worker web server that `streamapp status` asks (default http://127.0.0.1:WEB_PORT)."
    )

    @field_validator("broker")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        value = value.strip()
        if "://" not in value:
            value = "kafka://" + value  # accept plain host:port as Kafka users write it
        return value

    @model_validator(mode="after")
    def _heartbeat_under_session(self) -> WorkerSettings:
        if self.broker_heartbeat_interval >= self.broker_session_timeout:
            raise ValueError(
                f"STREAMAPP_BROKER_HEARTBEAT_INTERVAL ({self.broker_heartbeat_interval}) must be below "
                f"STREAMAPP_BROKER_SESSION_TIMEOUT ({self.broker_session_timeout})"
            )
        return self

    @model_validator(mode="after")
    def _basic_auth_complete(self) -> WorkerSettings:
        if (self.api_username is None) != (self.api_password is None):
            raise ValueError("set both STREAMAPP_API_USERNAME and STREAMAPP_API_PASSWORD, or neither")
        return self

    @model_validator(mode="after")
    def _sasl_complete(self) -> WorkerSettings:
        if self.broker_security_protocol.startswith("SASL") and not (self.sasl_username and self.sasl_password):
            raise ValueError(
                f"STREAMAPP_BROKER_SECURITY_PROTOCOL={self.broker_security_protocol} needs "
                "STREAMAPP_SASL_USERNAME and STREAMAPP_SASL_PASSWORD"
            )
        return self

    def bootstrap_servers(self) -> list[tuple[str, int]]:
        """Host and port of each server in the broker URL (``kafka://h1:9092;h2:9092``, commas too)."""
        servers = []
        for part in self.broker.replace(",", ";").split(";"):
            part = part.strip()
            if "://" in part:
                part = part.split("://", 1)[1]
            part = part.strip("/")
            if not part:
                continue
            host, _, port = part.rpartition(":")
            if not host:
                host, port = port, "9092"
            servers.append((host.strip("[]"), int(port)))
        return servers

    def kafka_client_options(self) -> dict[str, Any]:
        """Connection options for an aiokafka client of this worker's own (security included)."""
        protocol = self.broker_security_protocol
        options: dict[str, Any] = {
            "bootstrap_servers": [f"{host}:{port}" for host, port in self.bootstrap_servers()],
            "security_protocol": protocol,
        }
        if protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = self.ssl_context()
        if protocol.startswith("SASL"):
            assert self.sasl_username and self.sasl_password
            options.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.get_secret_value(),
            )
        return options

    def topic_layout(self, partitions: int | None = None, replicas: int | None = None) -> tuple[int, int]:
        """Partitions and replication factor for a topic a connector creates: Connect's rule, -1 (or unset)
        means the worker's default (``STREAMAPP_TOPIC_PARTITIONS``, ``STREAMAPP_TOPIC_REPLICATION_FACTOR``)."""
        return (
            self.topic_partitions if partitions in (None, -1) else partitions,
            self.topic_replication_factor if replicas in (None, -1) else replicas,
        )

    @property
    def connector_paths(self) -> list[str]:
        return [p.strip() for p in self.connectors.split(",") if p.strip()]

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for Kafka; ValueError naming the setting and file when one cannot be read."""
        try:
            context = ssl.create_default_context(cafile=self.ssl_cafile)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"STREAMAPP_SSL_CAFILE={self.ssl_cafile}: cannot read CA certificates ({_reason(exc)})"
            ) from None
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile:
            password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
            try:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile, password=password)
            except (OSError, ssl.SSLError) as exc:
                raise ValueError(
                    f"STREAMAPP_SSL_CERTFILE={self.ssl_certfile} / STREAMAPP_SSL_KEYFILE={self.ssl_keyfile}: cannot load "
                    f"the client certificate and key ({_reason(exc)}; is STREAMAPP_SSL_KEY_PASSWORD right?)"
                ) from None
        return context

    def broker_credentials(self) -> Any:
        """Faust credentials object for the configured security protocol, or None for PLAINTEXT."""
        import faust

        protocol = self.broker_security_protocol
        if protocol == "PLAINTEXT":
            return None
        if protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        assert self.sasl_username and self.sasl_password
        return faust.SASLCredentials(
            username=self.sasl_username,
            password=self.sasl_password.get_secret_value(),
            mechanism=self.sasl_mechanism,
            ssl_context=self.ssl_context() if protocol == "SASL_SSL" else None,
        )

    def describe(self) -> list[tuple[str, str, str]]:
        """(env var, effective value with secrets hidden, description) for every setting."""
        rows = []
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            shown = "[hidden]" if isinstance(value, SecretStr) else ("" if value is None else str(value))
            rows.append((f"STREAMAPP_{name.upper()}", shown, info.description or ""))
        return rows


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)


def load_settings(**overrides: Any) -> WorkerSettings:
    return WorkerSettings(**overrides)
