"""Diffusion sink: Kafka records to Diffusion topics, confirmed before acked.

Each record goes to the topic path its destination pattern renders. Updates of one path are sent
one at a time in Kafka order (so a new topic can never end on a stale value, the Java connector's
first-creation race); different paths are updated concurrently, up to ``diffusion.max.in.flight``.
A path is first updated with ``set_topic``; when the topic does not exist it is created with
``add_and_set_topic`` (the Java connector's behaviour, which also works for principals that may
update but not create topics that already exist).

Values are encoded once, in ``prepare``, into the bytes of the topic type (the SDK sends bytes
unchanged). ``set_topic`` goes through :class:`~.sdk_internals.DirectSetTopic`, the same request
at a third of the SDK's CPU per update, unless the SDK is not what it expects; then through the
SDK's public ``set_topic``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import diffusion.datatypes as dt
from diffusion.session.exceptions import NoSuchTopicError

from streamapp.core.contract import SessionStatus
from streamapp.core.sink import Delivery, SinkConnector
from streamapp.data import Record, RecordError
from streamapp.diffusion.connection import DiffusionConnection, is_open
from streamapp.diffusion.errors import DiffusionUnavailable, classify

from . import values as diffusion_values
from .destinations import DestinationPattern
from .sdk_internals import DirectSetTopic

__all__ = ["DiffusionSink", "RemoveTopic", "SetValue"]

logger = logging.getLogger(__name__)

_DATATYPES = {"json": dt.JSON, "string": dt.STRING, "int64": dt.INT64, "double": dt.DOUBLE, "binary": dt.BINARY}
_CONVERT = {
    "json": diffusion_values.to_diffusion_json,
    "string": diffusion_values.to_diffusion_string,
    "int64": diffusion_values.to_diffusion_int64,
    "double": diffusion_values.to_diffusion_double,
    "binary": diffusion_values.to_diffusion_binary,
}


@dataclass(frozen=True, slots=True)
class SetValue:
    """Set the topic's value (creating the topic when it does not exist)."""

    value: bytes  # encoded for the topic type (JSON: CBOR), as the SDK would encode it


@dataclass(frozen=True, slots=True)
class RemoveTopic:
    """Remove the topic: a tombstone under ``diffusion.tombstone.policy=remove``."""


_REMOVE = RemoveTopic()


class DiffusionSink(SinkConnector[SetValue | RemoveTopic]):
    def __init__(self, worker: Any, loaded: Any) -> None:
        super().__init__(worker, loaded)
        cfg = self.config
        self.pattern = DestinationPattern.parse(cfg.diffusion_destination)
        self.datatype = _DATATYPES[cfg.diffusion_topic_type]
        properties = cfg.topic_properties()
        self.specification = self.datatype.with_properties(**properties) if properties else self.datatype
        self.convert = _CONVERT[cfg.diffusion_topic_type]
        # JSON through our wrapper: it turns the SDK's encoding errors into conversion errors.
        self.encode = diffusion_values.encode_diffusion_json if self.datatype is dt.JSON else self.datatype.encode
        self.type_code: int = self.datatype.type_code
        self._direct: DirectSetTopic | None = None
        self._direct_session: Any = None
        self.remove_tombstones = cfg.diffusion_tombstone_policy == "remove"
        self.timeout = cfg.diffusion_request_timeout_ms / 1000
        self.connection = DiffusionConnection.from_config(cfg, self.name)

    @property
    def window(self) -> int:
        return self.config.diffusion_max_in_flight

    @property
    def conflate(self) -> bool:
        return self.config.diffusion_conflate

    async def start_client(self) -> None:
        await self.connection.start()

    async def stop_client(self) -> None:
        if self._direct is not None:
            self._direct.close()
            self._direct = self._direct_session = None
        await self.connection.stop()

    def session_status(self) -> SessionStatus:
        c = self.connection
        return SessionStatus(c.state, bool(c.connected), c.last_error)

    def prepare(self, record: Record) -> Delivery[SetValue | RemoveTopic]:
        path = self.pattern.render(record)
        if record.value is None and self.remove_tombstones:
            return Delivery(path, _REMOVE)
        try:
            # Encoded once, here: the SDK sends bytes unchanged (a top-level byte string would
            # otherwise be taken for CBOR), and a retry or a reconnection sends the same bytes.
            value = self.encode(self.convert(record.value_schema, record.value))
            if value is None:  # only BINARY has no null value
                raise ValueError("a null value has no BINARY form; diffusion.tombstone.policy=remove removes the topic")
        except (ValueError, TypeError) as exc:
            raise RecordError(
                f"cannot convert the value for Diffusion topic '{path}' ({self.config.diffusion_topic_type}): {exc}"
            ) from exc
        return Delivery(path, SetValue(value))

    def _direct_for(self, session: Any) -> DirectSetTopic | None:
        """The direct set_topic of the current session (a new session gets a new one)."""
        if self._direct_session is not session:
            if self._direct is not None:
                self._direct.close()
            self._direct = DirectSetTopic.for_session(session, self.timeout)
            self._direct_session = session
        return self._direct

    async def deliver(self, delivery: Delivery[SetValue | RemoveTopic], record: Record) -> None:
        path = delivery.key
        action = delivery.payload
        session = await self.connection.session()
        try:
            if action is _REMOVE:
                await asyncio.wait_for(session.topics.remove_topic(">" + path), self.timeout)
                return
            try:
                direct = self._direct if self._direct_session is session else self._direct_for(session)
                if direct is not None:
                    await direct.set(path, self.type_code, action.value)
                else:
                    await asyncio.wait_for(
                        session.topics.set_topic(path, action.value, specification=self.datatype), self.timeout
                    )
            except NoSuchTopicError:
                await asyncio.wait_for(
                    session.topics.add_and_set_topic(path, self.specification, action.value), self.timeout
                )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = classify(exc, path=path)
            if isinstance(error, DiffusionUnavailable) and (isinstance(exc, TimeoutError) or not is_open(session)):
                # A hung or closed session is replaced; the update is retried on the new one, in order.
                self.connection.mark_lost(session)
            raise error from exc
