"""CoAP sink: Kafka records to CoAP resources, routed and projected by KCQL, confirmed before acked.

Each KCQL statement ``INSERT INTO <resource> SELECT ... FROM <topic>`` sends every record of
``<topic>``, projected (:mod:`streamapp.kcql`), as a JSON request (Content-Format 50) to
``<connect.coap.uri>/<resource>``: a confirmable PUT by default (``connect.coap.method``,
``connect.coap.confirmable``). A 2.xx response confirms it; anything else, or no response within
``connect.coap.request.timeout.ms``, is an error naming the code and quoting the payload. The
Kafka key and headers are not sent. Nothing is sent on shutdown (the Stream Reactor sink sent a
DELETE to every resource).

**Several resources per topic.** Statements reading the same topic all get each record (the
Stream Reactor sink kept only the last one). The requests of one record go out together; the
record is acked once every one of them is confirmed. When some fail, only those are retried (a
resource that confirmed is never sent the record again) and the error policy applies to the
record as a whole.

**Ordering and throughput.** Requests for one resource are made one at a time, in Kafka order
(``connect.coap.ordering=resource``; ``partition`` relaxes this to one at a time per resource and
Kafka partition, which is all Kafka itself orders). Different resources proceed in parallel, up
to ``connect.coap.max.in.flight`` requests, each on its own client endpoint
(:class:`~streamapp.coap.EndpointPool`), because aiocoap sends one request at a time per endpoint.
For a record that several resources receive, the order holds per combination of resources.

**Error policies** (``connect.coap.error.policy``, as the Stream Reactor sink documents them),
applied to failed requests and to values that cannot be projected (text that is not JSON, a
null value, an unsupported type, a field missing from a struct):

* ``THROW`` (default): the connector stops with a clear error; the record is not acked, so it is
  consumed again after the cause is fixed and the worker restarted.
* ``NOOP``: the record is logged, counted, skipped and acked (sent to
  ``errors.deadletterqueue.topic.name`` first when one is set).
* ``RETRY``: the failed requests are sent again after ``connect.coap.retry.interval`` ms, up to
  ``connect.coap.max.retries`` times per record, then it is THROW. Later records for the same
  resource wait (order), other resources go on. A value that cannot be projected is not
  retried (it cannot change): THROW at once.

Converter errors (bytes that are not JSON, ...) are Connect's ``errors.tolerance`` business, as
in Kafka Connect: ``none`` stops the connector, ``all`` skips or dead-letters the record. With
``errors.tolerance=all`` and a dead-letter topic, records that THROW or RETRY give up on are
dead-lettered instead of stopping the connector.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from streamapp import kcql
from streamapp.coap import (
    CoapDeliveryError,
    EndpointPool,
    RequestSpec,
    client_transports,
    dtls_psk_credentials,
    require_dtls,
    send,
)
from streamapp.coap.dtls_x509 import X509Client
from streamapp.coap.progress import ProgressLog
from streamapp.converters import JsonConverter
from streamapp.records import Record

from .coap_config import CoapSinkConfig
from .record_errors import RecordFailure
from .sink import RecordError, SinkConnector

__all__ = ["CoapSink", "install", "resource_uri"]

logger = logging.getLogger(__name__)

# NOOP logs at most this many lines a second (a dead server fails every record), then counts the rest.
_NOOP_LINES_PER_SECOND = 10
_QUEUED_PER_REQUEST = 64  # records read ahead per request in flight (see CoapSink.window)
_MIN_WINDOW = 2048
_HANDSHAKE_SHARE = 0.8  # of connect.coap.request.timeout.ms that a DTLS certificate handshake may take
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def resource_uri(base: str, resource: str) -> str:
    """``<base>/<resource>`` with each path segment of the resource percent-encoded.

    ``coap://h:5683`` + ``sensors/room 1`` -> ``coap://h:5683/sensors/room%201``; a leading or
    trailing ``/`` on either side does not double the separator.
    """
    segments = resource.strip("/").split("/")
    return base.rstrip("/") + "/" + "/".join(quote(s, safe="") for s in segments)


@dataclass(frozen=True)
class _Route:
    statement: kcql.Statement
    projection: kcql.Projection
    spec: RequestSpec


@dataclass
class _Delivery:
    """The requests one record needs; ``confirmed`` survives retries, so no resource gets it twice."""

    requests: list[tuple[_Route, bytes]]
    confirmed: set[int] = field(default_factory=set)
    attempts: int = 0


@dataclass(frozen=True)
class _Unmappable:
    """A record whose value could not be projected, carried to ``deliver`` under NOOP (skip in order)."""

    error: Exception


class CoapSink(SinkConnector):
    config: CoapSinkConfig

    def __init__(self, app: Any, loaded: Any, settings: Any) -> None:
        super().__init__(app, loaded, settings)
        cfg = self.config
        self.policy = cfg.error_policy
        self.secure = cfg.is_secure
        timeout = cfg.request_timeout_ms / 1000
        self.x509: X509Client | None = None
        if cfg.x509 is not None:
            # Certificates: our DTLS transport. A handshake gets most of the request timeout, so a
            # silent server is reported as such before the request itself times out.
            self.x509 = X509Client(cfg.x509, handshake_timeout=timeout * _HANDSHAKE_SHARE)
        elif self.secure:
            require_dtls()  # a pre-shared key: aiocoap's tinydtls transport
        self.routes: dict[str, tuple[_Route, ...]] = {}
        for statement in cfg.statements():
            spec = RequestSpec(
                resource_uri(cfg.uri, statement.target),
                method=cfg.method,
                confirmable=cfg.confirmable,
                timeout=timeout,
                secure=self.secure and self.x509 is None,  # the PSK hint; certificate handshakes say why they failed
            )
            route = _Route(statement, kcql.Projection(statement), spec)
            self.routes[statement.source] = self.routes.get(statement.source, ()) + (route,)
        self._targets = {topic: tuple(r.statement.target for r in routes) for topic, routes in self.routes.items()}
        credentials = None
        if self.secure and self.x509 is None:
            credentials = dtls_psk_credentials(cfg.uri, cfg.username, cfg.password.get_secret_value())
        self.pool = EndpointPool(
            cfg.max_in_flight,
            client_transports(cfg.uri),
            credentials=credentials,
            x509=self.x509,
            loggername=f"{__name__}.aiocoap",
        )
        self.progress = ProgressLog(self.name, cfg.progress_interval_ms / 1000)
        self._progress_task: asyncio.Task | None = None
        # A schemaless JSON value selected whole can go out as the bytes it arrived as.
        converter = self.value_converter
        self._raw_json = isinstance(converter, JsonConverter) and not converter.schemas_enable
        self._noop_second = 0
        self._noop_lines = 0
        self._noop_folded = 0

    def _describe_setup(self) -> None:
        cfg = self.config
        for topic, routes in self.routes.items():
            for route in routes:
                logger.info(
                    "connector %r: topic '%s' -> %s %s (%s, JSON)",
                    self.name, topic, cfg.method, route.spec.uri, "CON" if cfg.confirmable else "NON",
                )
                ignored = route.statement.ignored_clauses
                if ignored:
                    logger.warning(
                        "connector %r: KCQL statement %d: the CoAP sink does not use %s; ignored",
                        self.name, route.statement.index, ", ".join(c.text for c in ignored),
                    )
        if self.secure and (cfg.host != "localhost" or cfg.port != 0):
            logger.warning(
                "connector %r: connect.coap.host/connect.coap.port (local DTLS bind address) are ignored: "
                "aiocoap binds each client endpoint to an ephemeral port", self.name,
            )
        if not self.secure and cfg.username:
            logger.warning("connector %r: connect.coap.username is only used with coaps:// URIs; ignored", self.name)
        certificate_keys = [k for k, v in (("connect.coap.keystore.path", cfg.keystore_path),
                            ("connect.coap.truststore.path", cfg.truststore_path),
                            ("connect.coap.dtls.certificate.chain.file", cfg.dtls_certificate_chain_file),
                            ("connect.coap.dtls.ca.file", cfg.dtls_ca_file)) if v]
        if certificate_keys and self.x509 is None:
            why = "a pre-shared key is used (connect.coap.username is set)" if self.secure else "the URI is coap://"
            logger.warning("connector %r: %s ignored: %s", self.name, ", ".join(certificate_keys), why)
        if self.x509 is not None:
            settings = self.x509.settings
            logger.info(
                "connector %r: DTLS 1.2 with certificates; client certificate: %s; trust anchors: %s",
                self.name, settings.client_subject and f"{settings.client_subject} ({settings.identity_source})"
                or "none", settings.trust_source,
            )

    # --- SinkConnector ------------------------------------------------------------------------------

    @property
    def window(self) -> int:
        # The base's window counts records queued behind their resource, not only requests: with a
        # window of max.in.flight, a few records waiting for one slow resource (or one under RETRY)
        # would stop every other resource. Requests in flight are bounded by the endpoint pool.
        return max(self.config.max_in_flight * _QUEUED_PER_REQUEST, _MIN_WINDOW)

    async def start_client(self) -> None:
        self._describe_setup()  # here, not in __init__: Faust configures logging after installing connectors
        await self.pool.start()
        if self.config.progress_enabled:
            self._progress_task = asyncio.create_task(self.progress.run(), name=f"{self.name} progress")

    async def stop_client(self) -> None:
        task, self._progress_task = self._progress_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.pool.close()

    def prepare(self, record: Record) -> tuple[Hashable, Any]:
        topic = record.topic
        self.progress.topic(topic).processed += 1
        routes = self.routes.get(topic)
        targets = self._targets.get(topic, ("?" + topic,))
        key: Hashable = targets if self.config.ordering == "resource" else (targets, record.partition)
        if routes is None:  # topics.regex matched a topic no statement reads
            return key, self._unmappable(RecordError(f"no KCQL statement reads topic '{topic}'"))
        requests = []
        bodies: dict[kcql.Projection, bytes] = {}
        for route in routes:
            body = bodies.get(route.projection)
            if body is None:
                try:
                    body = bodies[route.projection] = self._body(route.projection, record)
                except (kcql.ProjectionError, ValueError, TypeError) as exc:
                    return key, self._unmappable(
                        RecordError(f"KCQL statement {route.statement.index} ({route.statement}): {exc}")
                    )
            requests.append((route, body))
        return key, _Delivery(requests)

    def _body(self, projection: kcql.Projection, record: Record) -> bytes:
        value = record.value
        raw = record.raw_value
        if (
            projection.identity
            and self._raw_json
            and raw is not None
            and isinstance(value, (dict, list))
            and b"NaN" not in raw
            and b"Infinity" not in raw
        ):
            return raw
        return _dumps(projection.apply(record.value_schema, value)).encode("utf-8")

    def _unmappable(self, error: RecordError) -> _Unmappable:
        if self.policy == "NOOP":
            return _Unmappable(error)  # skipped in deliver, in its place in the order
        if self.policy == "RETRY":
            raise RecordError(f"{error} (not retried under RETRY: the value cannot change)") from error
        raise error  # THROW: the base stops the connector at MAPPING, the record unacked

    async def deliver(self, key: Hashable, payload: Any, record: Record) -> None:
        progress = self.progress.topic(record.topic)
        if isinstance(payload, _Unmappable):
            await self._skip(record, "MAPPING", payload.error)
            return
        delivery: _Delivery = payload
        cfg = self.config
        while True:
            pending = [(i, route, body) for i, (route, body) in enumerate(delivery.requests) if i not in delivery.confirmed]
            results: list[Any]
            if len(pending) == 1:  # the common case: no gather, no extra task
                try:
                    results = [await send(self.pool, pending[0][1].spec, pending[0][2])]
                except Exception as exc:  # noqa: BLE001 -- collected like gather(return_exceptions=True)
                    results = [exc]
            else:
                results = await asyncio.gather(
                    *(send(self.pool, route.spec, body) for _, route, body in pending), return_exceptions=True
                )
            errors = []
            for (index, _, _), result in zip(pending, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, Exception):
                        raise result  # cancelled: shutting down, the record stays unacked
                    errors.append(result)
                else:
                    delivery.confirmed.add(index)
            if not errors:
                progress.delivered += 1
                return
            error = _combine(errors)
            if self.policy == "NOOP":
                await self._skip(record, "DELIVERY", error)
                return
            if self.policy == "RETRY" and delivery.attempts < cfg.max_retries:
                delivery.attempts += 1
                progress.retried += 1
                self.counters.retried += 1
                logger.warning(
                    "connector %r: %s; retry %d of %d in %g s (connect.coap.error.policy=RETRY)",
                    self.name, error, delivery.attempts, cfg.max_retries, cfg.retry_interval / 1000,
                )
                await asyncio.sleep(cfg.retry_interval / 1000)
                continue
            if self.policy == "RETRY":
                raise CoapDeliveryError(
                    f"{error}; gave up after {cfg.max_retries} retries (connect.coap.max.retries)"
                ) from error
            raise CoapDeliveryError(f"{error} (connect.coap.error.policy=THROW)") from error

    async def _skip(self, record: Record, stage: str, error: Exception) -> None:
        """NOOP: log (a few lines a second at most), count, dead-letter when configured; the base then acks."""
        self.progress.topic(record.topic).skipped += 1
        failure = RecordFailure(record.topic, record.partition, record.offset, stage, error)
        if self.dlq is not None:
            await self.dlq.send(failure, record.raw_key, record.raw_value, list(record.headers))
            self.counters.dead_lettered += 1
            where = f" and sent to dead-letter topic '{self.config.errors_deadletterqueue_topic_name}'"
        else:
            self.counters.skipped += 1
            where = ""
        second = int(time.monotonic())
        if second != self._noop_second:
            self._noop_second, self._noop_lines = second, 0
        if self._noop_lines >= _NOOP_LINES_PER_SECOND:
            self._noop_folded += 1
            return
        self._noop_lines += 1
        folded = f" ({self._noop_folded} more skipped without a message before this one)" if self._noop_folded else ""
        self._noop_folded = 0
        logger.warning(
            "connector %r: %s; skipped%s (connect.coap.error.policy=NOOP)%s",
            self.name, failure.describe(), where, folded,
        )


def _combine(errors: list[Exception]) -> Exception:
    if len(errors) == 1:
        return errors[0]
    return CoapDeliveryError(f"{len(errors)} requests failed: " + "; ".join(str(e) for e in errors))


def install(app: Any, loaded: Any, settings: Any) -> CoapSink:
    sink = CoapSink(app, loaded, settings)
    sink.install()
    return sink

