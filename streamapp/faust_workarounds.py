"""Workarounds for Faust 0.15.3 / aiokafka 0.14, in one place (they use Faust internals).

**Partitions without a commit** (:func:`install`). Faust fetches while it restores tables and
drops what it fetched for stream partitions then; its "seek stream partitions to committed
offsets" afterwards rewinds only partitions whose committed offset is above 0 (aiokafka's
``seek_to_committed`` skips None and 0). A partition nobody committed yet silently lost those
records: a sink restarted after its very first record failed delivered nothing. After each
rebalance (Faust's ``on_rebalance_complete`` signal, sent before it seeks and resumes the flow),
such partitions are sought to the earliest offset.

**Records a sink gives up on** (:func:`release_unacked`). Before a rebalance and on shutdown
Faust waits until every record it handed out is acked or garbage, and its stream iterator keeps
the last record of each stream referenced. A record a sink leaves unacked on purpose (a stopped
connector, an abandoned delivery) made that wait last forever. Nothing else reads the set it
waits on: the committed offset still stops below every unacked record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["install", "release_unacked"]

logger = logging.getLogger(__name__)


def install(app: Any) -> None:
    @app.on_rebalance_complete.connect
    async def _rewind_uncommitted(sender: Any, **_: Any) -> None:
        if sender.conf.consumer_auto_offset_reset != "earliest":
            return  # "latest": the position Faust fetched up to is where latest starts anyway
        consumer = sender.consumer
        changelogs = sender.tables.changelog_topics
        streams = [tp for tp in consumer.assignment() if tp.topic not in changelogs]
        if not streams:
            return
        try:
            committed = await consumer.seek_to_committed()
            uncommitted = [tp for tp in streams if not committed.get(tp)]
            if uncommitted:
                earliest = await consumer.earliest_offsets(*uncommitted)
                await consumer.seek_wait({tp: earliest[tp] for tp in uncommitted})
                logger.info(
                    "no committed offset for %s: reading from the earliest offset",
                    ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(uncommitted)),
                )
        except Exception as exc:  # a rebalance again: the next one repeats this
            logger.warning("could not rewind uncommitted partitions (%s); a rebalance may be under way", exc)


def release_unacked(app: Any, owns: Callable[[str], bool]) -> int:
    """Stop Faust waiting for unacked records of the topics ``owns`` accepts; returns how many."""
    unacked = app.consumer._unacked_messages  # a WeakSet of faust Message
    released = [message for message in list(unacked) if not message.acked and owns(message.topic)]
    for message in released:
        unacked.discard(message)
    return len(released)
