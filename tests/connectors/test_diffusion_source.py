"""Diffusion source end to end: the emulator, an official-SDK publisher, a real worker process and
an aiokafka consumer reading what the source produced."""

from __future__ import annotations

import asyncio
import base64
import decimal
import json
from pathlib import Path

import aiohttp
import cbor2
import diffusion.datatypes as dt
import pytest
import pytest_asyncio

from tests.connectors.conftest import write_connector
from tests.fixtures.diffusion import diffusion_session, started_emulator
from tests.fixtures.kafka import ConsumeTimeout, consume, topic_partitions
from tests.fixtures.worker import make_worker

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 30


def source_config(url: str, selector: str, kafka_topic: str, **extra: str) -> dict:
    return {
        "connector.class": "com.diffusiondata.connect.diffusion.source.DiffusionSourceConnector",
        "tasks.max": "1",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "kafka.topic": kafka_topic,
        "diffusion.url": url,
        "diffusion.username": "admin",
        "diffusion.password": "password",
        "diffusion.selector": selector,
        "diffusion.poll.interval": "100",
        **extra,
    }


def headers_of(record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def consume_exactly(bootstrap: str, topic: str, count: int, timeout: float = TIMEOUT, quiet: float = 1.5):
    """``count`` records, and nothing more within ``quiet`` seconds after them."""
    records = await consume(bootstrap, topic, count, timeout)
    with pytest.raises(ConsumeTimeout):
        extra = await consume(bootstrap, topic, count + 1, quiet)
        raise AssertionError(f"unexpected extra record: {extra[-1]}")
    return records


@pytest_asyncio.fixture(scope="module")
async def source_stack(kafka_bootstrap, tmp_path_factory):
    # Emulators of its own: the seed's fixed paths start empty for each engine of the compatibility set.
    workdir = tmp_path_factory.mktemp("diffusion-source")
    configs = workdir / "connectors"
    configs.mkdir()
    async with started_emulator() as main, started_emulator() as private, diffusion_session(main.url) as publisher:
        url = main.url
        # Topics that exist before the worker starts: their current values are the first snapshot.
        await publisher.topics.add_and_set_topic("source/kafka/early", dt.JSON, {"symbol": "EARLY", "px": 1})
        await publisher.topics.add_and_set_topic("source/kafka", dt.JSON, {"not": "matched"})

        # The seed's sample, unchanged but for its URL.
        seed = json.loads((ROOT / "settings/connectors/diffusion-source.json").read_text())
        seed["config"]["diffusion.url"] = url
        (configs / "seed.json").write_text(json.dumps(seed))
        write_connector(
            configs,
            "types",
            source_config(
                url,
                "?src-types/.*",
                "src_types",
                **{"value.converter.schemas.enable": "true"},
            ),
        )
        write_connector(configs, "names", source_config(url, "?src-names//", "names.${topic}"))
        write_connector(
            configs,
            "order",
            source_config(
                url,
                "?src-order/.*",
                "src_order",
                **{
                    "diffusion.poll.size": "16",
                    "topic.creation.default.partitions": "3",
                },
            ),
        )
        write_connector(
            configs,
            "tomb",
            source_config(
                url,
                "?src-tomb/.*",
                "src_tomb",
                **{"diffusion.removal.tombstone": "true"},
            ),
        )
        write_connector(configs, "pausing", source_config(url, "?src-pause/.*", "src_pause"))
        # On a private emulator, whose sessions a test drops.
        write_connector(
            configs,
            "drop",
            source_config(
                private.url,
                "?src-drop//",
                "src_drop",
                **{"diffusion.reconnect.backoff.max.ms": "500"},
            ),
        )
        worker = await make_worker(kafka_bootstrap, configs, workdir).start()
        try:
            await worker.wait_ready()
            await worker.wait_for(
                "subscribed to Diffusion selector '\\?source/kafka/\\.\\*'",
                timeout=TIMEOUT,
            )
            yield kafka_bootstrap, publisher, worker, private
        finally:
            code = await worker.stop()
            assert code == 0, worker.output[-3000:]


@pytest.mark.compat
async def test_seed_example_snapshot_and_later_topics(source_stack):
    bootstrap, publisher, *_ = source_stack
    await publisher.topics.add_and_set_topic("source/kafka/ABC", dt.JSON, {"symbol": "ABC", "px": 1.5})
    await publisher.topics.set_topic("source/kafka/ABC", {"symbol": "ABC", "px": 2.25}, specification=dt.JSON)
    records = await consume_exactly(bootstrap, "diffusion.price", 3)
    by_key: dict[str, list] = {}
    for r in records:
        by_key.setdefault(r.key.decode(), []).append(r)
    assert sorted(by_key) == [
        "source/kafka/ABC",
        "source/kafka/early",
    ]  # not source/kafka (one segment)
    # The seed's JsonConverter keeps Connect's default schemas.enable=true: a map of mixed values is schemaless.
    early = json.loads(by_key["source/kafka/early"][0].value)
    assert early == {"schema": None, "payload": {"symbol": "EARLY", "px": 1}}
    abc = [json.loads(r.value)["payload"] for r in by_key["source/kafka/ABC"]]
    assert abc == [{"symbol": "ABC", "px": 1.5}, {"symbol": "ABC", "px": 2.25}]
    assert [headers_of(r)["diffusion.sequence"] for r in by_key["source/kafka/ABC"]] == ["1", "2"]
    assert headers_of(by_key["source/kafka/ABC"][0]) == {
        "diffusion.path": "source/kafka/ABC",
        "diffusion.topic.type": "json",
        "diffusion.sequence": "1",
    }


TYPE_CASES = [
    # (path suffix, data type, value as published, expected schema (None: schemaless), expected payload)
    ("str", dt.STRING, "héllo", {"type": "string", "optional": False}, "héllo"),
    ("int", dt.INT64, 2**40, {"type": "int64", "optional": False}, 2**40),
    ("small", dt.INT64, -5, {"type": "int32", "optional": False}, -5),
    ("dbl", dt.DOUBLE, 1.5, {"type": "double", "optional": False}, 1.5),
    ("bool", dt.JSON, True, {"type": "boolean", "optional": False}, True),
    (
        "arr",
        dt.JSON,
        [1, None, 3],
        {
            "type": "array",
            "items": {"type": "int32", "optional": True},
            "optional": False,
        },
        [1, None, 3],
    ),
    (
        "nested",
        dt.JSON,
        [[1, 2], [3]],
        {
            "type": "array",
            "items": {
                "type": "array",
                "items": {"type": "int32", "optional": False},
                "optional": False,
            },
            "optional": False,
        },
        [[1, 2], [3]],
    ),
    (
        "map",
        dt.JSON,
        {"a": 1.5, "b": 2},
        {
            "type": "map",
            "keys": {"type": "string", "optional": False},
            "values": {"type": "double", "optional": False},
            "optional": False,
        },
        {"a": 1.5, "b": 2},
    ),
    ("mixed", dt.JSON, {"name": "x", "px": 1.25}, None, {"name": "x", "px": 1.25}),
]


async def test_every_data_type_with_inferred_schema(source_stack):
    bootstrap, publisher, worker, _ = source_stack
    for suffix, data_type, value, _, _ in TYPE_CASES:
        await publisher.topics.add_and_set_topic(f"src-types/{suffix}", data_type, value)
    # CBOR byte strings, big integers and decimal fractions, published as raw CBOR by another client.
    await publisher.topics.add_and_set_topic(
        "src-types/cbor",
        dt.JSON,
        cbor2.dumps({"b": b"\x00\xff", "big": 2**70, "dec": decimal.Decimal("1.25")}),
    )
    await publisher.topics.add_and_set_topic("src-types/bytes", dt.JSON, cbor2.dumps(b"\x01\x02"))
    await publisher.topics.add_and_set_topic("src-types/bigint", dt.JSON, cbor2.dumps(2**70))
    # JSON has no NaN: Connect consumers could not read such a record, so it is a conversion error (logged).
    await publisher.topics.add_and_set_topic("src-types/nan", dt.DOUBLE, float("nan"))
    await publisher.topics.set_topic("src-types/str", None, specification=dt.STRING)  # null
    records = await consume_exactly(bootstrap, "src_types", len(TYPE_CASES) + 4)
    by_key: dict[str, list] = {}
    for r in records:
        by_key.setdefault(r.key.decode(), []).append(r)
    for suffix, data_type, _, schema, payload in TYPE_CASES:
        record = by_key[f"src-types/{suffix}"][0]
        envelope = json.loads(record.value)
        assert envelope == {"schema": schema, "payload": payload}, suffix
        assert headers_of(record)["diffusion.topic.type"] == data_type.type_name
    cbor = json.loads(by_key["src-types/cbor"][0].value)
    assert cbor["schema"] is None
    assert cbor["payload"] == {
        "b": base64.b64encode(b"\x00\xff").decode(),
        "big": 2**70,
        "dec": 1.25,
    }
    assert json.loads(by_key["src-types/bytes"][0].value) == {
        "schema": {"type": "bytes", "optional": False},
        "payload": base64.b64encode(b"\x01\x02").decode(),
    }
    bigint = json.loads(by_key["src-types/bigint"][0].value)
    assert bigint["schema"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert int.from_bytes(base64.b64decode(bigint["payload"]), "big", signed=True) == 2**70
    assert "src-types/nan" not in by_key
    await worker.wait_for(
        r"cannot convert the value of Diffusion topic 'src-types/nan': JsonConverter \(value\): payload: "
        r"cannot write nan as JSON",
        timeout=TIMEOUT,
    )
    null = by_key["src-types/str"]
    assert len(null) == 2 and null[1].value is None  # a null string value: a null Kafka value
    assert headers_of(null[1])["diffusion.sequence"] == "2"


async def test_names_are_sanitised_and_bad_ones_skipped(source_stack):
    bootstrap, publisher, worker, _ = source_stack
    paths = {
        "src-names/EUR USD": "names.src-names_EUR_USD",
        "src-names/a$b/c": "names.src-names_a_b_c",
        "src-names/prix/€": "names.src-names_prix__",
        "src-names/ok.v1": "names.src-names_ok.v1",
    }
    too_long = "src-names/" + "x" * 250
    await publisher.topics.add_and_set_topic(too_long, dt.STRING, "skipped")
    for path in paths:
        await publisher.topics.add_and_set_topic(path, dt.STRING, path)
    for path, topic in paths.items():
        records = await consume(bootstrap, topic, 1, TIMEOUT)
        assert records[0].key.decode() == path and json.loads(records[0].value) == path
    assert "Kafka allows at most 249" in worker.output
    # Destination topics are created with the worker's partitions (1 in tests), not the broker's default (4).
    assert len(await topic_partitions(bootstrap, "names.src-names_ok.v1")) == 1


async def test_order_per_topic_under_load(source_stack):
    bootstrap, publisher, *_ = source_stack
    paths, updates = 10, 60
    for p in range(paths):
        await publisher.topics.add_and_set_topic(f"src-order/p{p}", dt.JSON, {"p": p, "n": 0})

    async def publish(p: int) -> None:
        for n in range(1, updates):
            await publisher.topics.set_topic(f"src-order/p{p}", {"p": p, "n": n}, specification=dt.JSON)

    await asyncio.gather(*(publish(p) for p in range(paths)))
    records = await consume(bootstrap, "src_order", paths * updates, TIMEOUT)
    assert len(await topic_partitions(bootstrap, "src_order")) == 3  # topic.creation.default.partitions
    seen: dict[str, list[int]] = {}
    for r in records:
        seen.setdefault(r.key.decode(), []).append(json.loads(r.value)["n"])
        assert int(headers_of(r)["diffusion.sequence"]) == len(seen[r.key.decode()])
    assert seen == {f"src-order/p{p}": list(range(updates)) for p in range(paths)}


async def test_removed_topic_gives_a_tombstone(source_stack):
    bootstrap, publisher, *_ = source_stack
    await publisher.topics.add_and_set_topic("src-tomb/gone", dt.JSON, {"v": 1})
    await consume(bootstrap, "src_tomb", 1, TIMEOUT)
    await publisher.topics.remove_topic(">src-tomb/gone")
    records = await consume_exactly(bootstrap, "src_tomb", 2)
    assert records[1].key == b"src-tomb/gone" and records[1].value is None
    assert headers_of(records[1])["diffusion.sequence"] == "2"


async def task_state(worker, name: str, method: str = "GET", action: str = "status") -> str | None:
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{worker.web_port}/connectors/{name}/{action}"
        async with http.request(method, url) as response:
            assert response.status < 300, await response.text()
            if method != "GET":
                return None
            tasks = (await response.json())["tasks"]
            return tasks[0]["state"] if tasks else None


async def test_pause_holds_updates_in_the_queue_and_resume_produces_them_in_order(source_stack):
    bootstrap, publisher, worker, _ = source_stack
    await publisher.topics.add_and_set_topic("src-pause/a", dt.JSON, {"n": 0})
    await consume(bootstrap, "src_pause", 1, TIMEOUT)
    await task_state(worker, "pausing", "PUT", "pause")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while await task_state(worker, "pausing") != "PAUSED":  # applied on the worker, not only requested
        assert loop.time() < deadline, "the source was not paused"
        await asyncio.sleep(0.2)
    for n in (1, 2):
        await publisher.topics.set_topic("src-pause/a", {"n": n}, specification=dt.JSON)
    with pytest.raises(ConsumeTimeout):
        extra = await consume(bootstrap, "src_pause", 2, 3.0)
        raise AssertionError(f"produced while paused: {extra[-1]}")
    await task_state(worker, "pausing", "PUT", "resume")
    records = await consume_exactly(bootstrap, "src_pause", 3)
    assert [json.loads(r.value)["n"] for r in records] == [0, 1, 2]


async def test_session_drops_recover_without_duplicates(source_stack):
    bootstrap, _, worker, emulator = source_stack
    expected = []
    for round_ in range(3):
        async with diffusion_session(emulator.url) as publisher:
            for i in range(3):
                await publisher.topics.add_and_set_topic(f"src-drop/p{i}", dt.JSON, {"n": round_})
                expected.append((f"src-drop/p{i}", round_))
        await consume(bootstrap, "src_drop", len(expected), TIMEOUT)
        subscribed = worker.output.count("subscribed to Diffusion selector '?src-drop//'")
        assert await emulator.drop_all_sessions() >= 1
        await wait_for_output(
            worker,
            lambda out: (
                out.count("subscribed to Diffusion selector '?src-drop//'") > subscribed  # noqa: B023
            ),
        )
    records = await consume_exactly(bootstrap, "src_drop", len(expected))
    assert [(r.key.decode(), json.loads(r.value)["n"]) for r in records] == expected
    assert [headers_of(r)["diffusion.sequence"] for r in records] == [str(n) for n in range(1, 4) for _ in range(3)]
    assert "reconnected to Diffusion" in worker.output


async def wait_for_output(worker, condition, timeout: float = TIMEOUT) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition(worker.output):
        assert loop.time() < deadline, worker.output[-3000:]
        await asyncio.sleep(0.1)
