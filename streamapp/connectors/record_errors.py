"""What happens to a record that cannot be delivered: Kafka Connect's ``errors.*`` settings.

``errors.tolerance=none`` stops the connector, leaving the record unacked (so it is consumed
again after the cause is fixed and the worker restarted). ``all`` skips the record, after sending
it to ``errors.deadletterqueue.topic.name`` (original key/value bytes, Connect's
``__connect.errors.*`` headers) when one is configured. ``errors.log.enable`` logs each one.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordFailure", "DeadLetterQueue", "error_headers"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordFailure:
    """A record error with where it happened, for logs, the DLQ headers and the connector status."""

    topic: str
    partition: int
    offset: int
    stage: str  # "KEY_CONVERTER", "VALUE_CONVERTER", "MAPPING", "DELIVERY" (Connect uses the same stage names)
    exc: BaseException
    trace: str = ""  # set by detached()

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    def describe(self) -> str:
        return f"record {self.where} failed at {self.stage}: {type(self.exc).__name__}: {self.exc}"

    def detached(self) -> "RecordFailure":
        """A copy to keep (a stopped connector's status): the trace as text, no live frames.

        A traceback keeps the frames it passed through alive, with their locals, among them the
        Faust event of the failed record; Faust's shutdown waits until that event is acked or
        garbage, so a kept traceback would hang it.
        """
        text = "".join(traceback.format_exception(self.exc))
        exc: BaseException | None = self.exc
        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            exc = exc.__cause__ or exc.__context__
        return dataclasses.replace(self, trace=text)


def error_headers(failure: RecordFailure, connector: str) -> list[tuple[str, bytes]]:
    exc = failure.exc
    return [
        ("__connect.errors.topic", failure.topic.encode()),
        ("__connect.errors.partition", str(failure.partition).encode()),
        ("__connect.errors.offset", str(failure.offset).encode()),
        ("__connect.errors.connector.name", connector.encode()),
        ("__connect.errors.task.id", b"0"),
        ("__connect.errors.stage", failure.stage.encode()),
        ("__connect.errors.class.name", f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
        ("__connect.errors.exception.class.name", f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
        ("__connect.errors.exception.message", str(exc).encode()[:8192]),
    ]


class DeadLetterQueue:
    def __init__(self, app: Any, topic_name: str, *, connector: str, replicas: int, context_headers: bool) -> None:
        self.connector = connector
        self.context_headers = context_headers
        self.topic = app.topic(
            topic_name, key_serializer="raw", value_serializer="raw", partitions=1, replicas=replicas, internal=True
        )

    async def start(self) -> None:
        await self.topic.maybe_declare()

    async def send(self, failure: RecordFailure, key: bytes | None, value: bytes | None, headers: list) -> None:
        """Send the original bytes and wait until Kafka has them (the record is acked only after)."""
        all_headers = list(headers or [])
        if self.context_headers:
            all_headers += error_headers(failure, self.connector)
        fut = await self.topic.send(key=key, value=value, headers=all_headers)
        await fut
