"""Record failures, and the dead-letter topic (``errors.deadletterqueue.*``) as Connect writes it.

A dead letter is the failed record's original key, value and headers, plus (with
``errors.deadletterqueue.context.headers.enable``) Connect's ``__connect.errors.*`` headers:
topic, partition, offset, connector name, task id, stage, the class of the operation that failed
(the converter, or the connector's task), the exception's class, message and stack trace.

Like Connect, each connector with a dead-letter topic has a producer of its own, configured by
the worker's Kafka settings and the connector's ``producer.override.*`` keys (for example
``producer.override.max.request.size`` for records over 1 MB). A record is acked only once Kafka
has its dead letter. A dead letter that cannot be written (too large, topic missing, not
authorised) raises :class:`DeadLetterError`: the connector stops, as Connect's task does.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from dataclasses import dataclass
from typing import Any

from streamapp.errors import StreamAppError

__all__ = ["DeadLetterError", "DeadLetterQueue", "RecordFailure", "error_headers"]

logger = logging.getLogger(__name__)

_MESSAGE_LIMIT = 8192
_TRACE_LIMIT = 32768


@dataclass(frozen=True)
class RecordFailure:
    """A record error with where it happened, for logs, the dead-letter headers and the connector status."""

    topic: str
    partition: int
    offset: int
    stage: str  # Connect's stage names: KEY_CONVERTER, VALUE_CONVERTER, TASK_PUT, KAFKA_PRODUCE...
    exc: BaseException
    executing_class: str = ""  # Connect's __connect.errors.class.name: the converter or task that failed
    note: str = ""  # what the policy did before giving up, e.g. "gave up after 3 retries"
    trace: str = ""  # set by detached()

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    def describe(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"record {self.where} failed at {self.stage}: {type(self.exc).__name__}: {self.exc}{note}"

    def stack_trace(self) -> str:
        return self.trace or "".join(traceback.format_exception(self.exc))

    def detached(self) -> RecordFailure:
        """A copy to keep (a stopped connector's status): the trace as text, no live frames.

        A traceback keeps the frames it passed through alive, with their locals, among them the
        Faust event of the failed record; Faust's shutdown waits until that event is acked or
        garbage, so a kept traceback would hang it.
        """
        text = self.stack_trace()
        exc: BaseException | None = self.exc
        seen = set()
        while exc is not None and id(exc) not in seen:
            seen.add(id(exc))
            exc.__traceback__ = None
            exc = exc.__cause__ or exc.__context__
        return dataclasses.replace(self, trace=text)


def _class_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def error_headers(failure: RecordFailure, connector: str, task: int = 0) -> list[tuple[str, bytes]]:
    """Connect's ``__connect.errors.*`` headers (DeadLetterQueueReporter's names and order)."""
    exc = failure.exc
    return [
        ("__connect.errors.topic", failure.topic.encode()),
        ("__connect.errors.partition", str(failure.partition).encode()),
        ("__connect.errors.offset", str(failure.offset).encode()),
        ("__connect.errors.connector.name", connector.encode()),
        ("__connect.errors.task.id", str(task).encode()),
        ("__connect.errors.stage", failure.stage.encode()),
        ("__connect.errors.class.name", failure.executing_class.encode()),
        ("__connect.errors.exception.class.name", _class_name(exc).encode()),
        ("__connect.errors.exception.message", str(exc).encode()[:_MESSAGE_LIMIT]),
        ("__connect.errors.exception.stacktrace", failure.stack_trace().encode()[-_TRACE_LIMIT:]),
    ]


class DeadLetterError(StreamAppError):
    """The dead letter could not be written; the message says what to change."""


class DeadLetterQueue:
    """A connector's dead-letter topic and its producer."""

    def __init__(
        self,
        app: Any,
        topic_name: str,
        *,
        connector: str,
        replicas: int,
        context_headers: bool,
        client_options: dict[str, Any],
        max_request_size: int | None = None,
    ) -> None:
        self.connector = connector
        self.topic_name = topic_name
        self.context_headers = context_headers
        self.client_options = client_options
        self.max_request_size = max_request_size or 1048576  # Kafka's (and aiokafka's) default
        config = {"max.message.bytes": str(max_request_size)} if max_request_size else {}
        # Declared (created when missing) through Faust, with the worker's topic settings.
        self.topic = app.topic(
            topic_name, key_serializer="raw", value_serializer="raw", partitions=1, replicas=replicas,
            internal=True, config=config,
        )  # fmt: skip
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        try:
            await self.topic.maybe_declare()
        except Exception as exc:  # noqa: BLE001 -- exists already, or auto-created: producing tells
            logger.debug("connector %r: declaring dead-letter topic %s: %s", self.connector, self.topic_name, exc)
        self._producer = AIOKafkaProducer(
            **self.client_options,
            client_id=f"{self.connector}-dlq",
            acks="all",
            max_request_size=self.max_request_size,
        )
        await self._producer.start()

    async def stop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send(self, failure: RecordFailure, key: bytes | None, value: bytes | None, headers: list) -> None:
        """Write the dead letter and wait until Kafka has it (the record is acked only after)."""
        from aiokafka.errors import KafkaError, MessageSizeTooLargeError, TopicAuthorizationFailedError

        all_headers = list(headers or [])
        if self.context_headers:
            all_headers += error_headers(failure, self.connector)
        size = len(key or b"") + len(value or b"") + sum(len(k) + len(v or b"") for k, v in all_headers)
        try:
            await self._producer.send_and_wait(self.topic_name, value, key, headers=all_headers)
        except MessageSizeTooLargeError as exc:
            raise DeadLetterError(
                f"the dead letter of {failure.where} ({size:,} bytes) is too large for dead-letter topic "
                f"'{self.topic_name}' ({exc}); raise producer.override.max.request.size (now "
                f"{self.max_request_size:,}) and the topic's max.message.bytes, or the broker's message.max.bytes"
            ) from exc
        except TopicAuthorizationFailedError as exc:
            raise DeadLetterError(
                f"not authorised to write dead-letter topic '{self.topic_name}' ({exc}); grant this worker's "
                "principal WRITE on it, or change errors.deadletterqueue.topic.name"
            ) from exc
        except KafkaError as exc:
            raise DeadLetterError(
                f"cannot write the dead letter of {failure.where} to '{self.topic_name}': {type(exc).__name__}: {exc}"
            ) from exc
