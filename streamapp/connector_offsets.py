"""Connect 3.6's connector offsets: ``GET``, ``PATCH`` and ``DELETE /connectors/{name}/offsets``.

**Sinks.** Where a sink goes on is two things here: the worker group's committed offset (where a
worker starts reading a partition) and the delivered-offset table (what was confirmed delivered,
so that records read again are not delivered again). ``GET`` answers the next offset the sink
delivers per partition: the delivered offset + 1, or the committed offset when it is ahead (or
alone). Altering sets both together: the committed offset to the new position and the delivered
offset just below it, so that the sink delivers again from there (or skips ahead to there) when
it is resumed. ``DELETE`` sets every partition back to its first offset, as Connect's reset does
for a sink with ``auto.offset.reset=earliest``.

Altering needs the connector STOPPED (400 otherwise, Connect's message), and its partitions held
by no worker of the group (the stop's rebalance has finished; 409 while it has not). The topics
must be read by no other running connector: the committed offsets of a topic belong to the one
worker group, and the other connector would move them again.

**The Diffusion source** keeps, per Diffusion topic path, the sequence number and fingerprint of
the last value it produced (so that a restart does not produce unchanged values again). ``GET``
lists ``{"partition": {"diffusion.path": path}, "offset": {"diffusion.sequence": n}}``; altering
a path sets its sequence number and forgets its fingerprint (its current value is produced again
at the resume), a null offset or ``DELETE`` forgets the path altogether.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from . import faust_workarounds
from .core.offsets import DeliveredOffsets
from .errors import RequestRefused

if TYPE_CHECKING:
    from .config.loader import LoadedConnector
    from .kafka_admin import KafkaAdmin
    from .worker import Worker

__all__ = ["ALTERED", "RESET", "alter_offsets", "read_offsets"]

ALTERED = "The offsets for this connector have been altered successfully"
RESET = "The offsets for this connector have been reset successfully"
FINGERPRINT_TABLE = "streamapp-source-fingerprints"  # streamapp.diffusion.source.FINGERPRINT_TABLE
_RELEASE_WAIT = 30.0  # s for the group to let go of a stopped sink's partitions


def _not_stopped(name: str) -> RequestRefused:
    return RequestRefused(
        400,
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the "
        f"specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint",
    )


async def _sink_topics(admin: KafkaAdmin, loaded: LoadedConnector) -> list[str]:
    config = loaded.config
    if getattr(config, "topics", None):
        return list(config.topics)
    import re

    pattern = re.compile(config.topics_regex)
    return [t for t in await admin.topics() if pattern.fullmatch(t)]


def _reads(loaded: LoadedConnector, topic: str) -> bool:
    import re

    config = loaded.config
    if getattr(config, "topics", None):
        return topic in config.topics
    regex = getattr(config, "topics_regex", None)
    return bool(regex) and re.fullmatch(regex, topic) is not None


# --- reading -----------------------------------------------------------------------------------------


async def read_offsets(worker: Worker, admin: KafkaAdmin, loaded: LoadedConnector) -> list[dict[str, Any]]:
    if loaded.type.kind == "source":
        return [
            {"partition": {"diffusion.path": path}, "offset": {"diffusion.sequence": seq}}
            for path, seq in sorted(_fingerprints(worker, loaded.name).items())
        ]
    partitions = await admin.partitions(await _sink_topics(admin, loaded))
    committed = await admin.committed(worker.settings.app_id, partitions)
    delivered = {(t, p): o for t, p, o in DeliveredOffsets(worker.delivered_offsets, loaded.name).items() if o >= 0}
    out = []
    for tp in partitions:
        candidates = [o for o in (committed.get(tp), delivered[tp] + 1 if tp in delivered else None) if o is not None]
        if candidates:
            out.append(
                {
                    "partition": {"kafka_topic": tp[0], "kafka_partition": tp[1]},
                    "offset": {"kafka_offset": max(candidates)},
                }
            )
    return out


def _fingerprints(worker: Worker, name: str) -> dict[str, int]:
    table = worker.table(FINGERPRINT_TABLE, value_type=str, help="")
    out = {}
    for key, value in list(table.items()):
        try:
            connector, path = json.loads(key)
            if connector == name:
                out[path] = int(str(value).partition(" ")[0])
        except (TypeError, ValueError):
            continue
    return out


# --- altering ----------------------------------------------------------------------------------------


def _parse_sink(entries: list[Any]) -> dict[tuple[str, int], int | None]:
    out: dict[tuple[str, int], int | None] = {}
    for entry in entries:
        partition = entry.get("partition") if isinstance(entry, dict) else None
        if not isinstance(partition, dict):
            raise RequestRefused(
                400, 'Each entry needs a \'partition\' object: {"kafka_topic": ..., "kafka_partition": ...}'
            )
        topic, number = partition.get("kafka_topic"), partition.get("kafka_partition")
        if not isinstance(topic, str) or not topic:
            raise RequestRefused(
                400, "Kafka topic names must be valid strings: 'kafka_topic' is missing or not a string"
            )
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise RequestRefused(400, "Kafka partitions must be valid non-negative integers: 'kafka_partition'")
        offset = entry.get("offset")
        if offset is None:
            out[(topic, number)] = None
            continue
        value = offset.get("kafka_offset") if isinstance(offset, dict) else None
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise RequestRefused(400, "Kafka offsets must be valid non-negative integers: 'kafka_offset'")
        out[(topic, number)] = value
    return out


async def alter_offsets(worker: Worker, admin: KafkaAdmin, loaded: LoadedConnector, entries: list[Any] | None) -> str:
    """Apply a PATCH (``entries``) or a DELETE (None); returns Connect's message."""
    name = loaded.name
    if worker.herder.target(name) != "STOPPED":
        raise _not_stopped(name)
    if loaded.type.kind == "source":
        _alter_source(worker, name, entries)
        await _written(worker)
        return RESET if entries is None else ALTERED
    if entries is None:
        wanted: dict[tuple[str, int], int | None] = dict.fromkeys(
            await admin.partitions(await _sink_topics(admin, loaded))
        )
    else:
        wanted = _parse_sink(entries)
    for topic, _ in wanted:
        if not _reads(loaded, topic):
            raise RequestRefused(400, f"Connector {name} does not read the topic {topic}")
        for other in worker.loaded:
            if other.name != name and other.type.kind == "sink" and worker.herder.target(other.name) != "STOPPED":
                if _reads(other, topic):
                    raise RequestRefused(
                        400,
                        f"The topic {topic} is also read by the connector {other.name}, which is not stopped: the "
                        "committed offsets belong to the worker group; stop that connector too",
                    )
    if wanted:
        await _wait_released(admin, worker.settings.app_id, set(wanted))
        await _apply_sink(worker, name, wanted)
    return RESET if entries is None else ALTERED


async def _wait_released(admin: KafkaAdmin, group: str, partitions: set[tuple[str, int]]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _RELEASE_WAIT
    while True:
        state, held = await admin.group_assignment(group)
        if state in ("Stable", "Empty", "Dead") and not (held & partitions):
            return
        if loop.time() > deadline:
            raise RequestRefused(
                409,
                "The connector is still being stopped: the worker group still reads its partitions or is "
                "rebalancing; try again in a few seconds",
            )
        await asyncio.sleep(0.25)


async def _apply_sink(worker: Worker, name: str, wanted: dict[tuple[str, int], int | None]) -> None:
    from faust.types import TP

    app = worker.app
    tps = {key: TP(key[0], key[1]) for key in wanted}
    earliest = await app.consumer.earliest_offsets(*[tps[k] for k, v in wanted.items() if v is None])
    offsets = {tps[k]: (v if v is not None else int(earliest.get(tps[k]) or 0)) for k, v in wanted.items()}
    try:
        await faust_workarounds.commit_offsets(app, offsets)
    except Exception as exc:
        raise RequestRefused(409, f"Cannot commit the offsets now ({type(exc).__name__}: {exc}); try again") from exc
    delivered = DeliveredOffsets(worker.delivered_offsets, name)
    for tp, offset in offsets.items():
        delivered.set(tp.topic, tp.partition, offset - 1)  # -1: nothing delivered
    await _written(worker)


async def _written(worker: Worker) -> None:
    """Wait until the table writes above are in Kafka, before the answer lets anyone resume.

    Table writes leave through the producer's buffer. A resume makes every worker rebalance and
    recover the shared tables up to their end offsets; a write still buffered here then reached
    the others only after their first records, read with the old delivered offset: a record at the
    new position was taken as delivered already and skipped.
    """
    await worker.app.producer.flush()


def _alter_source(worker: Worker, name: str, entries: list[Any] | None) -> None:
    table = worker.table(FINGERPRINT_TABLE, value_type=str, help="")
    if entries is None:
        for path in _fingerprints(worker, name):
            del table[json.dumps([name, path])]
        return
    changes: dict[str, int | None] = {}
    for entry in entries:
        partition = entry.get("partition") if isinstance(entry, dict) else None
        path = partition.get("diffusion.path") if isinstance(partition, dict) else None
        if not isinstance(path, str) or not path:
            raise RequestRefused(400, "Each entry needs a 'partition' object: {\"diffusion.path\": ...}")
        offset = entry.get("offset")
        if offset is None:
            changes[path] = None
            continue
        sequence = offset.get("diffusion.sequence") if isinstance(offset, dict) else None
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 0:
            raise RequestRefused(400, 'Source offsets must be {"diffusion.sequence": a non-negative integer} or null')
        changes[path] = sequence
    known = _fingerprints(worker, name)
    for path, sequence in changes.items():
        key = json.dumps([name, path])
        if sequence is None:
            if path in known:
                del table[key]
        else:
            table[key] = f"{sequence} "  # no fingerprint: the current value is produced again
