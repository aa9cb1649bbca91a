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
from streamapp.core.policy import ErrorPolicy, StagePolicy
from streamapp.core.sink import Delivery, SinkConnector
from streamapp.data import Record, RecordError

from .config import CoapSinkConfig

__all__ = ["CoapRequests", "CoapSink", "resource_uri"]

logger = logging.getLogger(__name__)

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


@dataclass(slots=True)
class CoapRequests:
    """The requests one record needs; ``confirmed`` survives retries, so no resource gets it twice."""

    requests: list[tuple[_Route, bytes]]
    confirmed: set[int] = field(default_factory=set)


class CoapSink(SinkConnector[CoapRequests]):
    config: CoapSinkConfig

    def __init__(self, worker: Any, loaded: Any) -> None:
        super().__init__(worker, loaded)
        cfg = self.config
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

    def _describe_setup(self) -> None:
        cfg = self.config
        for topic, routes in self.routes.items():
            for route in routes:
                logger.info(
                    "connector %r: topic '%s' -> %s %s (%s, JSON)",
                    self.name,
                    topic,
                    cfg.method,
                    route.spec.uri,
                    "CON" if cfg.confirmable else "NON",
                )
                ignored = route.statement.ignored_clauses
                if ignored:
                    logger.warning(
                        "connector %r: KCQL statement %d: the CoAP sink does not use %s; ignored",
                        self.name,
                        route.statement.index,
                        ", ".join(c.text for c in ignored),
                    )
        if self.secure and (cfg.host != "localhost" or cfg.port != 0):
            logger.warning(
                "connector %r: connect.coap.host/connect.coap.port (local DTLS bind address) are ignored: "
                "aiocoap binds each client endpoint to an ephemeral port",
                self.name,
            )
        if not self.secure and cfg.username:
            logger.warning("connector %r: connect.coap.username is only used with coaps:// URIs; ignored", self.name)
        certificate_keys = [
            k
            for k, v in (
                ("connect.coap.keystore.path", cfg.keystore_path),
                ("connect.coap.truststore.path", cfg.truststore_path),
                ("connect.coap.dtls.certificate.chain.file", cfg.dtls_certificate_chain_file),
                ("connect.coap.dtls.ca.file", cfg.dtls_ca_file),
            )
            if v
        ]
        if certificate_keys and self.x509 is None:
            why = "a pre-shared key is used (connect.coap.username is set)" if self.secure else "the URI is coap://"
            logger.warning("connector %r: %s ignored: %s", self.name, ", ".join(certificate_keys), why)
        if self.x509 is not None:
            settings = self.x509.settings
            logger.info(
                "connector %r: DTLS 1.2 with certificates; client certificate: %s; trust anchors: %s",
                self.name,
                settings.client_subject and f"{settings.client_subject} ({settings.identity_source})" or "none",
                settings.trust_source,
            )

    # --- SinkConnector ------------------------------------------------------------------------------

    def error_policy(self) -> ErrorPolicy:
        """``connect.coap.error.policy`` for mapping and delivery; the converters follow ``errors.tolerance``."""
        cfg = self.config
        tolerate_all = cfg.errors_tolerance == "all"
        # As documented: with errors.tolerance=all and a dead-letter topic, what THROW or RETRY gives
        # up on is dead-lettered instead of stopping the connector.
        dead_letter = tolerate_all and bool(cfg.errors_deadletterqueue_topic_name)
        if cfg.error_policy == "NOOP":
            put = StagePolicy(tolerated=True)
        elif cfg.error_policy == "RETRY":
            put = StagePolicy(retries=cfg.max_retries, retry_interval=cfg.retry_interval / 1000, tolerated=dead_letter)
        else:
            put = StagePolicy(tolerated=dead_letter)
        return ErrorPolicy(
            conversion=StagePolicy(tolerated=tolerate_all),
            put=put,
            setting=f"connect.coap.error.policy={cfg.error_policy}",
            log_each=cfg.error_policy == "NOOP" or cfg.errors_log_enable,
            log_messages=cfg.errors_log_include_messages,
            stop_hint="fix the cause and restart the worker; connect.coap.error.policy=NOOP skips such records and "
            "RETRY sends them again (connect.coap.max.retries times), errors.tolerance=all with a dead-letter topic "
            "keeps them",
        )

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

    def record_done(self, record: Record, fate: str) -> None:
        progress = self.progress.topic(record.topic)
        if fate == "delivered":
            progress.delivered += 1
        elif fate in ("skipped", "dead_lettered"):
            progress.skipped += 1

    def record_retried(self, record: Record) -> None:
        self.progress.topic(record.topic).retried += 1

    def prepare(self, record: Record) -> Delivery[CoapRequests]:
        topic = record.topic
        self.progress.topic(topic).processed += 1
        routes = self.routes.get(topic)
        targets = self._targets.get(topic, ("?" + topic,))
        key: Hashable = targets if self.config.ordering == "resource" else (targets, record.partition)
        if routes is None:  # topics.regex matched a topic no statement reads
            raise RecordError(f"no KCQL statement reads topic '{topic}'")
        requests = []
        bodies: dict[kcql.Projection, bytes] = {}
        for route in routes:
            body = bodies.get(route.projection)
            if body is None:
                try:
                    body = bodies[route.projection] = self._body(route.projection, record)
                except (kcql.ProjectionError, ValueError, TypeError) as exc:
                    raise RecordError(f"KCQL statement {route.statement.index} ({route.statement}): {exc}") from exc
            requests.append((route, body))
        return Delivery(key, CoapRequests(requests))

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

    async def deliver(self, delivery: Delivery[CoapRequests], record: Record) -> None:
        """Send what is not confirmed yet; raise one error for what failed (the policy decides)."""
        state = delivery.payload
        requests = state.requests
        if len(requests) == 1 and not state.confirmed:  # the common case: one resource, nothing to skip
            route, body = requests[0]
            await send(self.pool, route.spec, body)
            return
        pending = [(i, route, body) for i, (route, body) in enumerate(requests) if i not in state.confirmed]
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
                state.confirmed.add(index)
        if errors:
            raise _combine(errors)


def _combine(errors: list[Exception]) -> Exception:
    if len(errors) == 1:
        return errors[0]
    return CoapDeliveryError(f"{len(errors)} requests failed: " + "; ".join(str(e) for e in errors))
