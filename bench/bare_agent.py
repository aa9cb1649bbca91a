"""The floor of this design: a bare Faust agent that only acks, on the topics a sink reads.

Run as ``faust -A bench.bare_agent worker`` (see :func:`bench.floor.bare_faust_cpu`): it reads
``BARE_TOPICS`` from the beginning with its own group, the way the sinks read (``noack_take``,
the same batch size and linger, each event acked on its own), and after ``BARE_COUNT`` events
prints ``BARE_CPU <cpu seconds> <events> <wall seconds>``: the process's CPU, and the time, from its
first event to the last.
"""

from __future__ import annotations

import os
import time

import faust

topics = os.environ["BARE_TOPICS"].split(",")
count = int(os.environ["BARE_COUNT"])
app = faust.App(
    os.environ.get("BARE_APP_ID", "bench-bare"),
    broker=os.environ["BARE_BROKER"],
    topic_partitions=1,
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(*topics, key_serializer="raw", value_serializer="raw")
state = {"seen": 0, "cpu": None, "wall": None}


@app.agent(source)
async def bare(stream):
    async for events in stream.noack().noack_take(500, within=0.005):
        if state["cpu"] is None:
            state["cpu"], state["wall"] = time.process_time(), time.perf_counter()
        for event in events:
            event.ack()
        state["seen"] += len(events)
        if state["seen"] >= count:
            cpu, wall = time.process_time() - state["cpu"], time.perf_counter() - state["wall"]
            print(f"BARE_CPU {cpu:.6f} {state['seen']} {wall:.6f}", flush=True)
            state["seen"] = -(10**12)  # report once
