"""What the REST API asks Kafka itself: the cluster id, partitions, the group's committed offsets
and who in the group holds which partitions. One aiokafka admin client per worker, started on
first use (with the worker's security settings)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamapp.settings import WorkerSettings

__all__ = ["KafkaAdmin"]


class KafkaAdmin:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self._client: Any = None
        self._lock = asyncio.Lock()
        self._cluster_id: str | None = None

    async def client(self) -> Any:
        async with self._lock:
            if self._client is None:
                from aiokafka.admin import AIOKafkaAdminClient

                client = AIOKafkaAdminClient(**self.settings.kafka_client_options())
                await client.start()
                self._client = client
            return self._client

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def cluster_id(self) -> str:
        if self._cluster_id is None:
            described = await (await self.client()).describe_cluster()
            self._cluster_id = str(described["cluster_id"])
        return self._cluster_id

    async def partitions(self, topics: list[str]) -> list[tuple[str, int]]:
        """(topic, partition) of each existing topic among ``topics``."""
        if not topics:
            return []
        out = []
        for doc in await (await self.client()).describe_topics(list(topics)):
            if doc.get("error_code", 0) == 0:
                out += [(doc["topic"], p["partition"]) for p in doc.get("partitions", ())]
        return sorted(out)

    async def topics(self) -> list[str]:
        return sorted(await (await self.client()).list_topics())

    async def committed(self, group: str, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The group's committed offset per partition; partitions without one are left out."""
        from aiokafka import TopicPartition

        if not partitions:
            return {}
        offsets = await (await self.client()).list_consumer_group_offsets(
            group, partitions=[TopicPartition(t, p) for t, p in partitions]
        )
        return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

    async def group_assignment(self, group: str) -> tuple[str, set[tuple[str, int]]]:
        """The group's state (``Stable``, ``PreparingRebalance``, ...) and the partitions its members hold."""
        from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

        responses = await (await self.client()).describe_consumer_groups([group])
        held: set[tuple[str, int]] = set()
        state = "Unknown"
        for response in responses:
            for described in response.to_object()["groups"]:
                if described["group"] != group:
                    continue
                state = described["state"]
                for member in described["members"]:
                    data = member["member_assignment"]
                    if not data:
                        continue
                    assignment = ConsumerProtocolMemberAssignment.decode(data)
                    for topic, partitions in assignment.assignment:
                        held.update((topic, p) for p in partitions)
        return state, held
