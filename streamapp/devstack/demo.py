"""Sample traffic for ``streamapp dev``: feed each sample connector's input and count what arrives.

Every second it writes one price to Kafka ``price`` (Diffusion sink input), one seed record to
Kafka ``coap_topic`` (CoAP sink input, JsonConverter with schema, the sample's default), and one
value to the Diffusion topic ``source/kafka/price`` (Diffusion source input). It watches the three
outputs: the Diffusion topic ``kafka/price`` through the official SDK, the CoAP resource
``/unsecure`` on the dev CoAP server, and the Kafka topic ``diffusion.price``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

__all__ = ["DemoFeed", "DEMO_TOPICS"]

logger = logging.getLogger(__name__)

DEMO_TOPICS = ("price", "coap_topic", "diffusion.price")

_SEED_SCHEMA = {
    "type": "struct",
    "name": "User",
    "optional": False,
    "fields": [
        {"field": "firstName", "type": "string", "optional": False},
        {"field": "lastName", "type": "string", "optional": False},
        {"field": "age", "type": "int32", "optional": False},
        {"field": "salary", "type": "double", "optional": False},
    ],
}


@dataclass
class _Counts:
    sent: dict[str, int] = field(
        default_factory=lambda: {"kafka:price": 0, "kafka:coap_topic": 0, "diffusion:source": 0}
    )
    arrived: dict[str, int] = field(
        default_factory=lambda: {"diffusion:kafka/price": 0, "coap:/unsecure": 0, "kafka:diffusion.price": 0}
    )


class DemoFeed:
    def __init__(
        self,
        *,
        bootstrap: str,
        diffusion_url: str,
        coap_received: Callable[[str], list[bytes]],
        interval: float = 1.0,
        report_every: float = 5.0,
        echo: Callable[[str], Any] = print,
    ) -> None:
        self.bootstrap = bootstrap
        self.diffusion_url = diffusion_url
        self.coap_received = coap_received
        self.interval = interval
        self.report_every = report_every
        self.echo = echo
        self.counts = _Counts()

    async def run(self) -> None:
        import diffusion
        import diffusion.datatypes as dt

        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer("diffusion.price", bootstrap_servers=self.bootstrap, auto_offset_reset="latest")
        session = (
            await diffusion.sessions()
            .principal("admin")
            .credentials(diffusion.Credentials("password"))
            .open(self.diffusion_url)
        )
        session.topics.add_value_stream(
            ">kafka/price",
            diffusion.features.topics.streams.ValueStreamHandler(dt.JSON, update=self._on_diffusion_update),
        )
        await session.topics.subscribe(">kafka/price")
        await producer.start()
        await consumer.start()
        tasks = [asyncio.create_task(self._count_kafka(consumer)), asyncio.create_task(self._report())]
        try:
            n = 0
            while True:
                n += 1
                price = round(100 + (n % 20) * 0.25, 2)
                await producer.send_and_wait(
                    "price", key=b"ABC", value=json.dumps({"symbol": "ABC", "price": price, "seq": n}).encode()
                )
                self.counts.sent["kafka:price"] += 1
                person = {"firstName": "John", "lastName": "Smith", "age": 30, "salary": 4830.0 + n}
                envelope = {"schema": _SEED_SCHEMA, "payload": person}
                await producer.send_and_wait("coap_topic", value=json.dumps(envelope).encode())
                self.counts.sent["kafka:coap_topic"] += 1
                await session.topics.add_and_set_topic(
                    "source/kafka/price", dt.JSON, {"symbol": "XYZ", "price": price, "seq": n}
                )
                self.counts.sent["diffusion:source"] += 1
                await asyncio.sleep(self.interval)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await consumer.stop()
            await producer.stop()
            await session.close()

    async def _on_diffusion_update(self, **_: Any) -> None:
        self.counts.arrived["diffusion:kafka/price"] += 1

    async def _count_kafka(self, consumer: AIOKafkaConsumer) -> None:
        async for _ in consumer:
            self.counts.arrived["kafka:diffusion.price"] += 1

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(self.report_every)
            self.counts.arrived["coap:/unsecure"] = len(self.coap_received("/unsecure"))
            s, a = self.counts.sent, self.counts.arrived
            self.echo(
                f"demo: Kafka price {s['kafka:price']} sent -> Diffusion kafka/price {a['diffusion:kafka/price']} | "
                f"Kafka coap_topic {s['kafka:coap_topic']} -> CoAP /unsecure {a['coap:/unsecure']} | "
                f"Diffusion source/kafka/price {s['diffusion:source']} -> Kafka diffusion.price {a['kafka:diffusion.price']}"
            )
