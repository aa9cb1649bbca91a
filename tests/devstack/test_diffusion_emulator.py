"""The Diffusion emulator driven by the unmodified official SDK: sessions, topics, subscriptions, errors.

Tests share the session-scoped emulator and keep to their own topic branch
(``diffusion_topic_root``); those that need a clean tree or special settings start their own.
"""

from __future__ import annotations

import asyncio
import re

import diffusion
import diffusion.datatypes as dt
import pytest
from diffusion.features.topics import TopicAddResponse, UnsubscribeReason
from diffusion.features.topics.update.constraint_factory import ConstraintFactory
from diffusion.internal.protocol import ResponseCode, ServerConnectionResponseError
from diffusion.internal.protocol.exceptions import ServiceMessageError
from diffusion.session.exceptions import (
    IncompatibleExistingTopicError,
    IncompatibleTopicError,
    InvalidTopicPathError,
    NoSuchTopicError,
    UnsatisfiedConstraintError,
    UpdateFailedError,
)

from tests.fixtures.diffusion import Collector, diffusion_session, started_emulator, wait_until

TIMEOUT = 5.0
CF = ConstraintFactory()


# --- handshake and authentication ------------------------------------------------------------------


@pytest.mark.parametrize("principal", ["admin", "control"])
async def test_default_principals_open_sessions(diffusion_emulator, principal: str) -> None:
    async with diffusion_session(diffusion_emulator.url, principal, "password") as session:
        assert session.state == diffusion.session.State.CONNECTED_ACTIVE
        assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{16}", str(session.session_id))
        info = {s.session_id: s for s in diffusion_emulator.sessions()}[str(session.session_id)]
        assert info.principal == principal
        assert info.properties["$Environment"].startswith("PYTHON_")


async def test_each_session_gets_its_own_id(diffusion_emulator) -> None:
    async with diffusion_session(diffusion_emulator.url) as one, diffusion_session(diffusion_emulator.url) as two:
        assert one.session_id != two.session_id
        assert diffusion_emulator.session_count >= 2


@pytest.mark.parametrize(("principal", "password"), [("admin", "wrong"), ("nobody", "password"), ("admin", "")])
async def test_bad_credentials_fail_with_authentication_failed(diffusion_emulator, principal, password) -> None:
    with pytest.raises(ServerConnectionResponseError) as info:
        async with diffusion_session(diffusion_emulator.url, principal, password):
            pass
    assert info.value.response_code is ResponseCode.AUTHENTICATION_FAILED
    assert "AUTHENTICATION_FAILED" in str(info.value)


async def test_configured_principals_replace_the_defaults() -> None:
    async with started_emulator(principals={"bridge": "s3cret"}) as emulator:
        async with diffusion_session(emulator.url, "bridge", "s3cret") as session:
            assert await session.topics.add_topic("x", dt.JSON) == TopicAddResponse.CREATED
        with pytest.raises(ServerConnectionResponseError) as info:
            async with diffusion_session(emulator.url, "admin", "password"):
                pass
        assert info.value.response_code is ResponseCode.AUTHENTICATION_FAILED


async def test_anonymous_sessions_may_subscribe_but_not_modify_topics(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with (
        diffusion_session(diffusion_emulator.url) as admin,
        diffusion_session(diffusion_emulator.url, principal=None) as anonymous,
    ):
        assert anonymous.state.connected
        await admin.topics.add_and_set_topic(f"{root}/a", dt.STRING, "hello")
        collector = await Collector(anonymous).subscribe(f"?{root}//")
        assert await collector.wait_for(f"{root}/a") == "hello"
        attempts = [
            anonymous.topics.add_topic(f"{root}/b", dt.JSON),
            anonymous.topics.add_and_set_topic(f"{root}/b", dt.JSON, {}),
            anonymous.topics.set_topic(f"{root}/a", "changed", dt.STRING),
            anonymous.topics.remove_topic(f"?{root}//"),
        ]
        for attempt in attempts:
            with pytest.raises(ServiceMessageError, match="Access denied"):
                await asyncio.wait_for(attempt, TIMEOUT)
        assert diffusion_emulator.topic(f"{root}/a") == ("string", "hello")
        assert diffusion_emulator.topic(f"{root}/b") is None


async def test_anonymous_sessions_refused_when_disabled() -> None:
    async with started_emulator(allow_anonymous=False) as emulator:
        with pytest.raises(ServerConnectionResponseError) as info:
            async with diffusion_session(emulator.url, principal=None):
                pass
        assert info.value.response_code is ResponseCode.AUTHENTICATION_FAILED
        async with diffusion_session(emulator.url) as session:
            assert session.state.connected


async def test_closing_a_session_removes_it(fresh_diffusion_emulator) -> None:
    emulator = fresh_diffusion_emulator
    async with diffusion_session(emulator.url) as session:
        await wait_until(lambda: emulator.session_count == 1)
    assert session.state == diffusion.session.State.CLOSED_BY_CLIENT
    await wait_until(lambda: emulator.session_count == 0)


async def test_user_ping(diffusion_emulator) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        assert await asyncio.wait_for(session.ping_server(), TIMEOUT) is not None


# --- add / add-and-set / set / remove for every type -------------------------------------------------

VALUES = [
    pytest.param(dt.JSON, {"px": 1.5, "sym": "ABC", "n": [1, None, True, {"x": "é"}]}, id="json-object"),
    pytest.param(dt.JSON, [1, 2, 3], id="json-array"),
    pytest.param(dt.JSON, "just a string", id="json-string"),
    pytest.param(dt.JSON, None, id="json-null"),
    pytest.param(dt.STRING, "héllo wörld", id="string"),
    pytest.param(dt.STRING, "", id="string-empty"),
    pytest.param(dt.INT64, 2**62, id="int64"),
    pytest.param(dt.INT64, -5, id="int64-negative"),
    pytest.param(dt.DOUBLE, 1.5, id="double"),
    pytest.param(dt.DOUBLE, -1e300, id="double-large"),
    pytest.param(dt.BINARY, bytes(range(256)), id="binary"),
    pytest.param(dt.BINARY, b"", id="binary-empty"),
]


@pytest.mark.parametrize(("data_type", "value"), VALUES)
async def test_add_and_set_delivers_value_of_each_type(
    diffusion_emulator, diffusion_topic_root, data_type, value
) -> None:
    path = f"{diffusion_topic_root}/v"
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        collector = await Collector(sub).subscribe(f">{path}")
        result = await publisher.topics.add_and_set_topic(path, data_type, value)
        assert result == TopicAddResponse.CREATED
        assert await collector.wait_for(path) == value
        assert collector.type_name(path) == data_type.type_name
        assert diffusion_emulator.topic(path) == (data_type.type_name, value)
        # A second add-and-set with the same specification updates and reports EXISTS.
        assert await publisher.topics.add_and_set_topic(path, data_type, value) == TopicAddResponse.EXISTS
        await wait_until(lambda: len(collector.values(path)) == 2)


@pytest.mark.parametrize(
    ("data_type", "first", "second"),
    [
        (dt.JSON, {"px": 1}, {"px": 2}),
        (dt.STRING, "a", "b"),
        (dt.INT64, 1, 2),
        (dt.DOUBLE, 0.25, 0.5),
        (dt.BINARY, b"\x01", b"\x02"),
    ],
)
async def test_set_topic_updates_every_subscriber_in_order(
    diffusion_emulator, diffusion_topic_root, data_type, first, second
) -> None:
    path = f"{diffusion_topic_root}/p"
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        assert await publisher.topics.add_topic(path, data_type) == TopicAddResponse.CREATED
        assert diffusion_emulator.topic(path) == (data_type.type_name, None)
        collector = await Collector(sub).subscribe(f"?{diffusion_topic_root}/.*")
        assert await collector.wait_for_subscription(path) == data_type.type_name
        assert collector.values(path) == []  # no value yet, so none delivered
        for value in (first, second, first):
            await publisher.topics.set_topic(path, value, data_type)
        await wait_until(lambda: len(collector.values(path)) == 3)
        assert collector.values(path) == [first, second, first]
        assert diffusion_emulator.topic(path) == (data_type.type_name, first)


@pytest.mark.parametrize(("data_type", "value"), [(dt.STRING, "x"), (dt.INT64, 7), (dt.DOUBLE, 2.5)])
async def test_null_empties_string_int64_and_double_topics(
    diffusion_emulator, diffusion_topic_root, data_type, value
) -> None:
    path = f"{diffusion_topic_root}/n"
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        await publisher.topics.add_and_set_topic(path, data_type, value)
        collector = await Collector(sub).subscribe(path)
        assert await collector.wait_for(path) == value
        await publisher.topics.set_topic(path, None, data_type)
        assert await collector.wait_for(path, lambda v: v is None) is None
        assert diffusion_emulator.topic(path) == (data_type.type_name, None)
        # The topic now has no value: a new subscriber is subscribed but receives nothing,
        # and the no-value constraint is satisfied.
        async with diffusion_session(diffusion_emulator.url) as late:
            late_collector = await Collector(late).subscribe(path)
            assert await late_collector.wait_for_subscription(path) == data_type.type_name
            await publisher.topics.set_topic(path, value, data_type, CF.no_value)
            assert await late_collector.wait_for(path) == value
            assert late_collector.values(path) == [value]


async def test_add_topic_twice_reports_exists(diffusion_emulator, diffusion_topic_root) -> None:
    path = f"{diffusion_topic_root}/t"
    async with diffusion_session(diffusion_emulator.url) as session:
        spec = dt.STRING.with_properties(DONT_RETAIN_VALUE=True)
        assert await session.topics.add_topic(path, spec) == TopicAddResponse.CREATED
        assert await session.topics.add_topic(path, spec) == TopicAddResponse.EXISTS
        assert path in diffusion_emulator.topic_paths()


async def test_leading_and_trailing_slash_are_dropped_from_topic_paths(
    diffusion_emulator, diffusion_topic_root
) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_and_set_topic(f"/{diffusion_topic_root}/s/", dt.INT64, 3)
        assert diffusion_emulator.topic(f"{diffusion_topic_root}/s") == ("int64", 3)
        await session.topics.set_topic(f"{diffusion_topic_root}/s", 4, dt.INT64)
        assert diffusion_emulator.topic(f"{diffusion_topic_root}/s") == ("int64", 4)


async def test_dont_retain_value_topics_deliver_updates_but_keep_no_value(
    diffusion_emulator, diffusion_topic_root
) -> None:
    path = f"{diffusion_topic_root}/ephemeral"
    spec = dt.JSON.with_properties(DONT_RETAIN_VALUE=True)
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        collector = await Collector(sub).subscribe(path)
        assert await publisher.topics.add_and_set_topic(path, spec, {"n": 1}) == TopicAddResponse.CREATED
        assert await collector.wait_for(path) == {"n": 1}
        await publisher.topics.set_topic(path, {"n": 2}, dt.JSON)
        assert await collector.wait_for(path, lambda v: v == {"n": 2}) == {"n": 2}
        assert diffusion_emulator.topic(path) == ("json", None)
        async with diffusion_session(diffusion_emulator.url) as late:
            late_collector = await Collector(late).subscribe(path)
            await late_collector.wait_for_subscription(path)
            assert late_collector.values(path) == []


async def test_remove_topic_counts_and_notifies_subscribers_with_removal(
    diffusion_emulator, diffusion_topic_root
) -> None:
    root = diffusion_topic_root
    async with (
        diffusion_session(diffusion_emulator.url) as publisher,
        diffusion_session(diffusion_emulator.url) as sub_one,
        diffusion_session(diffusion_emulator.url) as sub_two,
    ):
        for name in ("a", "b", "c/d"):
            await publisher.topics.add_and_set_topic(f"{root}/{name}", dt.STRING, name)
        one = await Collector(sub_one).subscribe(f"?{root}//")
        two = await Collector(sub_two).subscribe(f">{root}/a")
        await one.wait_for(f"{root}/c/d")
        await two.wait_for(f"{root}/a")

        result = await publisher.topics.remove_topic(f"#>{root}/a////?{root}/c/.*")
        assert result.removed_count == 2
        assert await one.wait_for_unsubscription(f"{root}/a") is UnsubscribeReason.REMOVAL
        assert await one.wait_for_unsubscription(f"{root}/c/d") is UnsubscribeReason.REMOVAL
        assert await two.wait_for_unsubscription(f"{root}/a") is UnsubscribeReason.REMOVAL
        assert one.subscribed_paths() == {f"{root}/b"}
        assert diffusion_emulator.topic_paths().count(f"{root}/b") == 1
        assert diffusion_emulator.topic(f"{root}/a") is None

        assert (await publisher.topics.remove_topic(f"?{root}//")).removed_count == 1
        assert (await publisher.topics.remove_topic(f"?{root}//")).removed_count == 0
        assert not [p for p in diffusion_emulator.topic_paths() if p.startswith(f"{root}/")]


# --- subscriptions -----------------------------------------------------------------------------------

TREE = ["a", "a/b", "a/b/c", "a/bc", "ab", "x.y/z", "q/r"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (">{r}/a", {"a"}),
        ("{r}/a", {"a"}),  # abbreviated path
        (">{r}/a/", {"a/b", "a/b/c", "a/bc"}),
        (">{r}/a//", {"a", "a/b", "a/b/c", "a/bc"}),
        ("{r}/a//", {"a", "a/b", "a/b/c", "a/bc"}),
        ("?{r}/a/.*", {"a/b", "a/bc"}),
        ("?{r}/.*/b", {"a/b"}),
        ("?{r}/a/", {"a/b", "a/b/c", "a/bc"}),
        ("?{r}/a//", {"a", "a/b", "a/b/c", "a/bc"}),
        ("?{r}/a.*", {"a", "ab"}),
        ("*{r}/a.*", {"a", "a/b", "a/b/c", "a/bc", "ab"}),
        ("*{r}/a/b.*", {"a/b", "a/b/c", "a/bc"}),
        ("*{r}/a/", {"a/b", "a/b/c", "a/bc"}),
        ("*{r}/a//", {"a", "a/b", "a/b/c", "a/bc"}),
        ("#>{r}/ab////?{r}/q/.*", {"ab", "q/r"}),
        (r"*{r}/\Qx.y\E/.*", {"x.y/z"}),
        ("?{r}/nothing", set()),
    ],
)
async def test_every_selector_form_subscribes_the_right_topics(
    diffusion_emulator, diffusion_topic_root, selector: str, expected: set[str]
) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        for name in TREE:
            await publisher.topics.add_and_set_topic(f"{root}/{name}", dt.STRING, name)
        collector = await Collector(sub).subscribe(selector.format(r=root))
        # Notifications precede the subscribe response, so everything has arrived by now.
        want = {f"{root}/{name}" for name in expected}
        assert collector.subscribed_paths() == want
        for path in want:
            assert collector.values(path) == [path.removeprefix(f"{root}/")]
        server_view = {s.session_id: s for s in diffusion_emulator.sessions()}[str(sub.session_id)]
        assert set(server_view.subscribed_paths) == want


async def test_source_kafka_selector_does_not_match_kafka_price(fresh_diffusion_emulator) -> None:
    async with diffusion_session(fresh_diffusion_emulator.url) as session:
        for path in ("kafka/price", "source/kafka/price", "source/kafka/price/bid"):
            await session.topics.add_and_set_topic(path, dt.JSON, {"path": path})
        pitfall = await Collector(session).subscribe("?source/kafka/.*")
        assert pitfall.subscribed_paths() == {"source/kafka/price"}
    async with diffusion_session(fresh_diffusion_emulator.url) as session:
        fixed = await Collector(session).subscribe("?kafka/.*")
        assert fixed.subscribed_paths() == {"kafka/price"}


async def test_topics_added_after_subscribe_are_delivered(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        collector = await Collector(sub).subscribe(f"?{root}/prices/.*")
        assert collector.subscribed_paths() == set()
        await publisher.topics.add_and_set_topic(f"{root}/prices/eur", dt.DOUBLE, 1.08)
        await publisher.topics.add_topic(f"{root}/prices/gbp", dt.DOUBLE)
        await publisher.topics.add_and_set_topic(f"{root}/other/eur", dt.DOUBLE, 9.9)
        assert await collector.wait_for(f"{root}/prices/eur") == 1.08
        assert await collector.wait_for_subscription(f"{root}/prices/gbp") == "double"
        await publisher.topics.set_topic(f"{root}/prices/gbp", 0.86, dt.DOUBLE)
        assert await collector.wait_for(f"{root}/prices/gbp") == 0.86
        assert f"{root}/other/eur" not in collector.subscribed_paths()


async def test_publisher_and_two_subscribers_with_different_selectors(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with (
        diffusion_session(diffusion_emulator.url, "control", "password") as publisher,
        diffusion_session(diffusion_emulator.url) as sub_eu,
        diffusion_session(diffusion_emulator.url) as sub_all,
    ):
        eu = await Collector(sub_eu).subscribe(f"?{root}/eu/.*")
        everything = await Collector(sub_all).subscribe(f"*{root}//")
        updates = [("eu/de", {"px": 1}), ("us/ny", {"px": 2}), ("eu/fr", {"px": 3}), ("eu/de", {"px": 4})]
        for name, value in updates:
            await publisher.topics.add_and_set_topic(f"{root}/{name}", dt.JSON, value)
        await wait_until(lambda: len(everything.values(f"{root}/eu/de")) == 2)
        await wait_until(lambda: len(eu.values(f"{root}/eu/de")) == 2)
        assert eu.subscribed_paths() == {f"{root}/eu/de", f"{root}/eu/fr"}
        assert everything.subscribed_paths() == {f"{root}/eu/de", f"{root}/eu/fr", f"{root}/us/ny"}
        assert eu.values(f"{root}/eu/de") == [{"px": 1}, {"px": 4}]
        assert everything.values(f"{root}/us/ny") == [{"px": 2}]
        assert await everything.wait_for(f"{root}/eu/fr") == {"px": 3}


async def test_subscribing_overlapping_selectors_notifies_once(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_and_set_topic(f"{root}/a", dt.INT64, 1)
        collector = Collector(session)
        for selector in (f">{root}/a", f"?{root}/.*", f"*{root}//"):
            await collector.subscribe(selector)
        await session.topics.set_topic(f"{root}/a", 2, dt.INT64)
        await collector.wait_for(f"{root}/a", lambda v: v == 2)
        assert collector.values(f"{root}/a") == [1, 2]
        assert collector.subscribed_paths() == {f"{root}/a"}


async def test_unsubscribe_stops_updates_with_reason_requested(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        await publisher.topics.add_and_set_topic(f"{root}/a/x", dt.STRING, "1")
        await publisher.topics.add_and_set_topic(f"{root}/marker", dt.STRING, "m1")
        collector = await Collector(sub).subscribe(f"?{root}/a/.*")
        await collector.subscribe(f">{root}/marker")
        await collector.unsubscribe(f"?{root}/a/.*")
        assert await collector.wait_for_unsubscription(f"{root}/a/x") is UnsubscribeReason.REQUESTED

        await publisher.topics.set_topic(f"{root}/a/x", "2", dt.STRING)
        await publisher.topics.add_and_set_topic(f"{root}/a/y", dt.STRING, "new")
        # The marker update is sent after the others on the same socket, so once it has
        # arrived anything the unsubscribed topics would have produced would be here too.
        await publisher.topics.set_topic(f"{root}/marker", "m2", dt.STRING)
        await collector.wait_for(f"{root}/marker", lambda v: v == "m2")
        assert collector.values(f"{root}/a/x") == ["1"]
        assert f"{root}/a/y" not in collector.subscribed_paths()
        assert collector.subscribed_paths() == {f"{root}/marker"}


async def test_unsubscribe_negates_a_broader_subscription(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as publisher, diffusion_session(diffusion_emulator.url) as sub:
        for name in ("a", "b"):
            await publisher.topics.add_and_set_topic(f"{root}/{name}", dt.STRING, name)
        collector = await Collector(sub).subscribe(f"?{root}//")
        await collector.unsubscribe(f">{root}/a")
        assert await collector.wait_for_unsubscription(f"{root}/a") is UnsubscribeReason.REQUESTED
        assert collector.subscribed_paths() == {f"{root}/b"}
        # New topics under the broad selector still arrive; the unsubscribed path does not.
        await publisher.topics.remove_topic(f">{root}/a")
        await publisher.topics.add_and_set_topic(f"{root}/a", dt.STRING, "again")
        await publisher.topics.add_and_set_topic(f"{root}/c", dt.STRING, "c")
        assert await collector.wait_for(f"{root}/c") == "c"
        assert collector.values(f"{root}/a") == ["a"]


# --- error replies -----------------------------------------------------------------------------------


async def test_set_missing_topic_raises_no_such_topic(diffusion_emulator, diffusion_topic_root) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(NoSuchTopicError, match="No topic"):
            await session.topics.set_topic(f"{diffusion_topic_root}/missing", {"a": 1}, dt.JSON)


async def test_set_with_the_wrong_type_raises_incompatible_topic(diffusion_emulator, diffusion_topic_root) -> None:
    path = f"{diffusion_topic_root}/json"
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_and_set_topic(path, dt.JSON, {"a": 1})
        with pytest.raises(IncompatibleTopicError, match="incompatible"):
            await session.topics.set_topic(path, 5, dt.INT64)
        assert diffusion_emulator.topic(path) == ("json", {"a": 1})


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(dt.STRING, id="other-type"),
        pytest.param(dt.JSON.with_properties(DONT_RETAIN_VALUE=True), id="other-properties"),
    ],
)
async def test_adding_over_an_incompatible_topic_raises(diffusion_emulator, diffusion_topic_root, second) -> None:
    path = f"{diffusion_topic_root}/t"
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_and_set_topic(path, dt.JSON, {"v": 1})
        with pytest.raises(IncompatibleExistingTopicError):
            await session.topics.add_topic(path, second)
        with pytest.raises(IncompatibleExistingTopicError):
            await session.topics.add_and_set_topic(path, second, "x" if second is dt.STRING else {"v": 2})
        assert diffusion_emulator.topic(path) == ("json", {"v": 1})


@pytest.mark.parametrize("path", ["", "a//b", "Diffusion", "Diffusion/metrics", "/"])
async def test_invalid_paths_raise_invalid_topic_path(diffusion_emulator, path: str) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(InvalidTopicPathError):
            await session.topics.add_topic(path, dt.JSON)
        with pytest.raises(InvalidTopicPathError):
            await session.topics.add_and_set_topic(path, dt.STRING, "x")
        with pytest.raises(InvalidTopicPathError):
            await session.topics.set_topic(path, "x", dt.STRING)
    assert "Diffusion/metrics" not in diffusion_emulator.topic_paths()


async def test_unsupported_service_raises_service_error(diffusion_emulator) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(ServiceMessageError, match="FETCH_QUERY is not supported"):
            await asyncio.wait_for(session.topics.fetch_request().fetch("?.*//"), TIMEOUT)
        assert session.state.connected  # an unsupported service does not harm the session


async def test_unsupported_topic_type_raises_service_error(diffusion_emulator, diffusion_topic_root) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(ServiceMessageError, match="TIME_SERIES is not supported"):
            await session.topics.add_topic(f"{diffusion_topic_root}/ts", dt.TimeSeriesDataType.of(dt.JSON))


@pytest.mark.parametrize("selector", ["?a//b", "$x", "*(", ">"])
async def test_invalid_selectors_raise_service_error(diffusion_emulator, selector: str) -> None:
    async with diffusion_session(diffusion_emulator.url) as session:
        for call in (session.topics.subscribe, session.topics.unsubscribe, session.topics.remove_topic):
            with pytest.raises(ServiceMessageError, match="Invalid topic selector"):
                await asyncio.wait_for(call(selector), TIMEOUT)


async def test_validate_values_property_rejects_malformed_values(diffusion_emulator, diffusion_topic_root) -> None:
    root = diffusion_topic_root
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_topic(f"{root}/checked", dt.JSON.with_properties(VALIDATE_VALUES=True))
        await session.topics.add_topic(f"{root}/unchecked", dt.JSON)
        with pytest.raises(UpdateFailedError, match="Invalid json value"):
            await session.topics.set_topic(f"{root}/checked", b"\xbf\x61", dt.JSON)  # raw, truncated CBOR
        # Like a real server, topics without VALIDATE_VALUES store what they are given.
        await session.topics.set_topic(f"{root}/unchecked", b"\xbf\x61", dt.JSON)
        assert diffusion_emulator.topic(f"{root}/checked") == ("json", None)
        assert diffusion_emulator.topic(f"{root}/unchecked") == ("json", b"\xbf\x61")


# --- update constraints ------------------------------------------------------------------------------


async def test_no_value_constraint(diffusion_emulator, diffusion_topic_root) -> None:
    path = f"{diffusion_topic_root}/nv"
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(UnsatisfiedConstraintError):  # no topic at all
            await session.topics.set_topic(path, "x", dt.STRING, CF.no_value)
        with pytest.raises(UnsatisfiedConstraintError):
            await session.topics.add_and_set_topic(path, dt.STRING, "x", CF.no_value)
        await session.topics.add_topic(path, dt.STRING)
        await session.topics.set_topic(path, "first", dt.STRING, CF.no_value)
        with pytest.raises(UnsatisfiedConstraintError, match="has a value"):
            await session.topics.set_topic(path, "second", dt.STRING, CF.no_value)
        with pytest.raises(UnsatisfiedConstraintError):
            await session.topics.add_and_set_topic(path, dt.STRING, "second", CF.no_value)
        assert diffusion_emulator.topic(path) == ("string", "first")


async def test_no_topic_constraint(diffusion_emulator, diffusion_topic_root) -> None:
    path = f"{diffusion_topic_root}/nt"
    async with diffusion_session(diffusion_emulator.url) as session:
        with pytest.raises(NoSuchTopicError):  # satisfied, but set cannot create topics
            await session.topics.set_topic(path, 1, dt.INT64, CF.no_topic)
        created = await session.topics.add_and_set_topic(path, dt.INT64, 1, CF.no_topic)
        assert created == TopicAddResponse.CREATED
        with pytest.raises(UnsatisfiedConstraintError, match="a topic exists"):
            await session.topics.add_and_set_topic(path, dt.INT64, 2, CF.no_topic)
        with pytest.raises(UnsatisfiedConstraintError):
            await session.topics.set_topic(path, 2, dt.INT64, CF.no_topic)
        assert diffusion_emulator.topic(path) == ("int64", 1)


@pytest.mark.parametrize(
    ("constraint", "name"),
    [
        (CF.value(dt.STRING("x")), "topic-value"),
        (CF.locked("lock", 1), "locked"),
        (CF.json_value.with_("/a", dt.STRING("x")), "partial-json"),
        (CF.locked("lock", 1) & CF.no_value, "conjunction"),
    ],
)
async def test_other_constraints_are_clearly_unsupported(
    diffusion_emulator, diffusion_topic_root, constraint, name
) -> None:
    path = f"{diffusion_topic_root}/c"
    async with diffusion_session(diffusion_emulator.url) as session:
        await session.topics.add_and_set_topic(path, dt.STRING, "x")
        with pytest.raises(ServiceMessageError, match=f"constraint '{name}' is not supported by the emulator"):
            await session.topics.set_topic(path, "y", dt.STRING, constraint)
        assert diffusion_emulator.topic(path) == ("string", "x")
