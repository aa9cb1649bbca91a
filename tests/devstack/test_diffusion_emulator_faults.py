"""System pings and the emulator's fault hooks, observed through the official SDK.

Each test starts its own emulator: the hooks affect every session of an emulator.
"""

from __future__ import annotations

import asyncio
import time

import diffusion
import diffusion.datatypes as dt
import pytest
from diffusion.handlers import SimpleHandler
from diffusion.internal.protocol import ResponseCode, ServerConnectionError
from diffusion.internal.protocol.exceptions import ServerDisconnectedError
from diffusion.session.exceptions import ServerInitializingError
from diffusion.session.retry_strategy import RetryStrategy

from streamapp.devstack.diffusion_emulator import DiffusionEmulator, run_emulator
from tests.fixtures.diffusion import Collector, diffusion_session, started_emulator, wait_until
from tests.fixtures.net import free_tcp_port

TIMEOUT = 5.0
State = diffusion.session.State


async def test_system_pings_are_sent_and_answered() -> None:
    async with started_emulator(system_ping_period=0.1) as emulator:
        async with diffusion_session(emulator.url) as session:
            received = 0

            @SimpleHandler
            async def on_ping(**_: object) -> None:
                nonlocal received
                received += 1

            session._add_ping_handler(on_ping)  # the SDK's only hook for system pings
            await wait_until(lambda: emulator.sessions()[0].system_pings_answered >= 3)
            info = emulator.sessions()[0]
            assert received >= 2
            assert info.system_pings_sent - info.system_pings_answered <= 1
            assert session.state == State.CONNECTED_ACTIVE
            # The handshake announced the same period, in milliseconds.
            assert session._internal.connection.response.ping_period == 100


async def test_drop_all_sessions_closes_them_by_server_and_new_sessions_work() -> None:
    async with started_emulator() as emulator:
        async with diffusion_session(emulator.url) as one, diffusion_session(emulator.url) as two:
            await one.topics.add_and_set_topic("kept", dt.STRING, "value")
            assert await emulator.drop_all_sessions() == 2
            await wait_until(lambda: one.state == State.CLOSED_BY_SERVER and two.state == State.CLOSED_BY_SERVER)
            assert emulator.session_count == 0
            with pytest.raises(ServerDisconnectedError):
                await one.topics.set_topic("kept", "lost", dt.STRING)
            # Server state survives; a new session sees it.
            async with diffusion_session(emulator.url) as fresh:
                collector = await Collector(fresh).subscribe(">kept")
                assert await collector.wait_for("kept") == "value"
                assert emulator.session_count == 1
        assert await emulator.drop_all_sessions() == 0


async def test_refuse_connections_fails_opens_during_the_window_only() -> None:
    async with started_emulator() as emulator:
        async with diffusion_session(emulator.url) as existing:
            emulator.refuse_connections(0.8)
            started = time.monotonic()
            with pytest.raises(ServerInitializingError) as info:
                async with diffusion_session(emulator.url):
                    pass
            assert info.value.response_code is ResponseCode.REJECTED_SERVER_INITIALISING
            assert isinstance(info.value, ServerConnectionError)  # what SDK retry strategies catch
            # Sessions opened before the window are unaffected.
            await asyncio.wait_for(existing.ping_server(), TIMEOUT)
            await asyncio.sleep(max(0.0, 0.85 - (time.monotonic() - started)))
            async with diffusion_session(emulator.url) as later:
                assert later.state == State.CONNECTED_ACTIVE


async def test_sdk_initial_retry_strategy_rides_out_a_refusal_window() -> None:
    async with started_emulator() as emulator:
        emulator.refuse_connections(0.5)
        factory = (
            diffusion.sessions()
            .principal("admin")
            .credentials(diffusion.Credentials("password"))
            .initial_retry_strategy(RetryStrategy(interval=1.0, attempts=3))
        )
        started = time.monotonic()
        session = await asyncio.wait_for(factory.open(emulator.url), 10)
        try:
            assert session.state == State.CONNECTED_ACTIVE
            assert time.monotonic() - started >= 1.0  # refused once, then retried after 1 s
        finally:
            await session.close()


async def test_delay_responses_delays_calls_and_their_effects() -> None:
    delay = 0.4
    async with started_emulator() as emulator:
        async with diffusion_session(emulator.url) as publisher, diffusion_session(emulator.url) as sub:
            await publisher.topics.add_topic("slow", dt.INT64)
            collector = await Collector(sub).subscribe(">slow")
            emulator.delay_responses(delay)

            started = time.monotonic()
            await publisher.topics.set_topic("slow", 1, dt.INT64)
            assert time.monotonic() - started >= delay
            assert await collector.wait_for("slow") == 1

            # Requests in flight are delayed side by side, not one after another.
            started = time.monotonic()
            await asyncio.gather(*(publisher.topics.set_topic("slow", i, dt.INT64) for i in range(2, 12)))
            elapsed = time.monotonic() - started
            assert delay <= elapsed < 5 * delay  # one after another would take 10 * delay
            await collector.wait_for("slow", lambda v: v == 11)
            assert collector.values("slow") == list(range(1, 12))  # order preserved

            emulator.delay_responses(0)
            started = time.monotonic()
            await publisher.topics.set_topic("slow", 99, dt.INT64)
            assert time.monotonic() - started < delay


async def test_delayed_call_times_out_for_a_caller_with_a_deadline() -> None:
    async with started_emulator() as emulator:
        async with diffusion_session(emulator.url) as session:
            await session.topics.add_and_set_topic("t", dt.STRING, "before")
            emulator.delay_responses(1.0)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(session.topics.set_topic("t", "late", dt.STRING), 0.2)
            emulator.delay_responses(0)
            # A slow server still applies the request it was sent.
            await wait_until(lambda: emulator.topic("t") == ("string", "late"))


async def test_stopping_the_emulator_closes_sessions_and_refuses_connections() -> None:
    emulator = DiffusionEmulator()
    await emulator.start()
    url = emulator.url
    async with diffusion_session(url) as session:
        await emulator.stop()
        await wait_until(lambda: session.state == State.CLOSED_BY_SERVER)
    with pytest.raises(ServerConnectionError):
        async with diffusion_session(url):
            pass


async def test_run_emulator_serves_until_cancelled() -> None:
    port = free_tcp_port()
    ready: asyncio.Future[DiffusionEmulator] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(run_emulator("127.0.0.1", port, principals={"svc": "pw"}, on_ready=ready.set_result))
    try:
        emulator = await asyncio.wait_for(ready, TIMEOUT)
        assert emulator.url == f"ws://127.0.0.1:{port}"
        async with diffusion_session(emulator.url, "svc", "pw") as session:
            assert await session.topics.add_topic("x", dt.JSON) is not None
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    with pytest.raises(ServerConnectionError):
        async with diffusion_session(f"ws://127.0.0.1:{port}", "svc", "pw"):
            pass
