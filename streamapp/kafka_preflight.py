"""Before the worker joins its group: can it talk to Kafka with the settings it was given?

Faust (through aiokafka) reports a refused password, an untrusted broker certificate or a SASL
mechanism the broker does not enable as "Unable to bootstrap from [...]" with a long traceback;
the cause is only in an earlier log line. This check opens one connection per bootstrap server
the way the worker will (security protocol, TLS context, SASL), and turns a definite
misconfiguration into one line naming the setting to change and the reason. Passwords are never
part of it. A broker that does not answer (yet) is not a misconfiguration: the worker goes on and
Faust waits for it as usual.

aiokafka's client keeps the cause of a failed bootstrap to its log, so the connection here is
made with ``aiokafka.conn.create_conn``, the function its client uses per broker (guard test:
tests/unit/test_kafka_preflight.py).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

from aiokafka.conn import create_conn
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed, UnsupportedSaslMechanismError

from .errors import StreamAppError

if TYPE_CHECKING:
    from .settings import WorkerSettings

__all__ = ["BrokerMisconfigured", "check_broker"]

_TIMEOUT = 10.0


class BrokerMisconfigured(StreamAppError):
    """The worker's Kafka settings cannot work with this broker; the message says which setting and why."""


def _describe(settings: WorkerSettings, host: str, port: int, exc: BaseException) -> str | None:
    """One line for a definite misconfiguration, None for a broker that merely does not answer."""
    protocol = settings.broker_security_protocol
    where = f"cannot use Kafka at {host}:{port} ({protocol})"
    cause = exc.__cause__ if isinstance(exc, KafkaConnectionError) and exc.__cause__ else exc
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"{where}: STREAMAPP_SASL_USERNAME / STREAMAPP_SASL_PASSWORD: the broker refused user "
            f"{settings.sasl_username!r} with SASL {settings.sasl_mechanism} ({exc.args[0] if exc.args else exc})"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (
            f"{where}: STREAMAPP_SASL_MECHANISM={settings.sasl_mechanism}: the broker does not enable this "
            "mechanism on this listener (choose PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 as the broker offers)"
        )
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or str(cause)
        if "hostname" in reason.lower() or "ip address mismatch" in reason.lower():
            return (
                f"{where}: STREAMAPP_SSL_CHECK_HOSTNAME: the broker's certificate is not for {host} ({reason}); "
                "connect with a name the certificate holds"
            )
        return (
            f"{where}: STREAMAPP_SSL_CAFILE: the broker's certificate is not trusted ({reason}); set "
            "STREAMAPP_SSL_CAFILE to the CA certificate (PEM) that signed it"
        )
    if isinstance(cause, ssl.SSLError):
        text = str(cause)
        if any(alert in text for alert in ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "CERTIFICATE_UNKNOWN")):
            return (
                f"{where}: STREAMAPP_SSL_CERTFILE / STREAMAPP_SSL_KEYFILE: the broker refused this worker's client "
                f"certificate, or requires one ({getattr(cause, 'reason', None) or text})"
            )
        if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text.lower():
            return (
                f"{where}: STREAMAPP_BROKER_SECURITY_PROTOCOL={protocol}: the listener does not speak TLS "
                "(use PLAINTEXT or SASL_PLAINTEXT, or the broker's TLS port)"
            )
        return f"{where}: TLS failed ({text})"
    if isinstance(cause, asyncio.IncompleteReadError) and protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        return (
            f"{where}: STREAMAPP_BROKER_SECURITY_PROTOCOL={protocol}: the broker closed the connection at once; "
            "this listener probably expects TLS (SSL or SASL_SSL)"
        )
    return None


async def check_broker(settings: WorkerSettings, *, timeout: float = _TIMEOUT) -> None:
    """Connect to each bootstrap server until one accepts; raise :class:`BrokerMisconfigured` if one
    refuses this worker's settings and none accepts. Servers that do not answer are left to Faust."""
    protocol = settings.broker_security_protocol
    tls = settings.ssl_context() if protocol in ("SSL", "SASL_SSL") else None
    sasl = {}
    if protocol.startswith("SASL"):
        assert settings.sasl_username and settings.sasl_password
        sasl = {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password.get_secret_value(),
        }
    refusals: list[str] = []
    for host, port in settings.bootstrap_servers():
        try:
            conn = await asyncio.wait_for(
                create_conn(
                    host, port, client_id=f"{settings.app_id}-preflight", request_timeout_ms=int(timeout * 1000),
                    ssl_context=tls, security_protocol=protocol, **sasl,
                ),
                timeout,
            )  # fmt: skip
        except (
            TimeoutError,
            OSError,
            KafkaConnectionError,
            SaslAuthenticationFailed,
            UnsupportedSaslMechanismError,
        ) as exc:
            line = _describe(settings, host, port, exc)
            if line is not None:
                if settings.sasl_password:  # never, whatever a library put in a message
                    line = line.replace(settings.sasl_password.get_secret_value(), "[hidden]")
                refusals.append(line)
            continue
        conn.close()
        return
    if refusals:
        raise BrokerMisconfigured(refusals[0])
