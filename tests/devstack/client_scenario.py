"""One scenario every official Diffusion client runs against the emulator, and its expected transcript.

Each client (the Python SDK here, the JavaScript client in ``clients/scenario.js``, the Java client
in ``clients/Scenario.java``) runs the same steps under its own topic root and reports a transcript:
each step's result (or the error reason code the server sent), the values its value streams
received per topic, and the reason of each unsubscription. The emulator behaves the same for every
client when every transcript equals ``EXPECTED``.

Steps: a refused wrong password; add a JSON topic twice (created, exists); set it; add-and-set a
second one; add a string topic and update it through an update stream (the Python SDK has no update
streams, so it sets the topic three times); the two failures every client maps (500 a value of the
wrong type, 9000 a missing topic); unsubscribe the string topic (reason 0, REQUESTED) and set it
again, unseen; remove everything with one selector (3 topics, reason 2, REMOVAL); close.

The value streams use three selector kinds: split-path ``?root/json/.*`` for the JSON topics,
the path ``>root/text`` for the string topic, and ``?root//`` for the subscription.
"""

from __future__ import annotations

from typing import Any

import diffusion.datatypes as dt
from diffusion.features.topics import TopicAddResponse
from diffusion.internal.protocol.exceptions import ServerConnectionResponseError
from diffusion.session.exceptions import IncompatibleTopicError, NoSuchTopicError

from tests.fixtures.diffusion import StrictValueStream, diffusion_session, wait_until

__all__ = ["EXPECTED", "run_python_scenario"]

EXPECTED: dict[str, Any] = {
    "steps": [
        {"step": "connect with a wrong password", "result": "refused"},
        {"step": "add json/a", "result": "created"},
        {"step": "add json/a again", "result": "exists"},
        {"step": "set json/a", "result": "ok"},
        {"step": "add and set json/b", "result": "created"},
        {"step": "add text", "result": "created"},
        {"step": "update stream on text", "result": "ok"},
        {"step": "set json/a with a string", "error": 500},
        {"step": "set a missing topic", "error": 9000},
        {"step": "unsubscribe text", "result": "ok"},
        {"step": "set text after unsubscribing", "result": "ok"},
        {"step": "remove all", "result": 3},
    ],
    "values": {"json/a": [{"px": 1}], "json/b": [{"px": 2}], "text": ["a", "b", "c"]},
    "unsubscribed": {"text": 0, "json/a": 2, "json/b": 2},
}

# The SDK raises one exception class per reason code; the transcript records the code.
_ERROR_CODES = {IncompatibleTopicError: 500, NoSuchTopicError: 9000}


async def run_python_scenario(url: str, root: str) -> dict[str, Any]:
    """The scenario through the official Python SDK; returns its transcript."""
    steps: list[dict[str, Any]] = []
    values: dict[str, list[Any]] = {}
    unsubscribed: dict[str, int] = {}

    def relative(path: str) -> str:
        return path[len(root) + 1 :]

    async def step(name: str, action: Any) -> None:
        try:
            steps.append({"step": name, "result": await action()})
        except tuple(_ERROR_CODES) as exc:
            steps.append({"step": name, "error": _ERROR_CODES[type(exc)]})

    async def on_value(*, topic_path: str, topic_value: Any, **_: Any) -> None:
        values.setdefault(relative(topic_path), []).append(topic_value)

    async def on_unsubscribe(*, topic_path: str, reason: Any, **_: Any) -> None:
        unsubscribed[relative(topic_path)] = reason.value

    async def wrong_password() -> str:
        try:
            async with diffusion_session(url, "admin", "wrong"):
                return "accepted"
        except ServerConnectionResponseError:
            return "refused"

    await step("connect with a wrong password", wrong_password)
    async with diffusion_session(url) as session:
        topics = session.topics
        for selector, data_type in ((f"?{root}/json/.*", dt.JSON), (f">{root}/text", dt.STRING)):
            handler = StrictValueStream(data_type, update=on_value, unsubscribe=on_unsubscribe)
            topics.add_value_stream(selector, handler)
        await topics.subscribe(f"?{root}//")

        def added(result: Any) -> str:
            return "created" if result == TopicAddResponse.CREATED else "exists"

        async def set_and_ok(path: str, value: Any, data_type: Any) -> str:
            await topics.set_topic(f"{root}/{path}", value, data_type)
            return "ok"

        async def text_updates() -> str:
            for value in ("a", "b", "c"):
                await topics.set_topic(f"{root}/text", value, dt.STRING)
            return "ok"

        async def unsubscribe_text() -> str:
            await topics.unsubscribe(f">{root}/text")
            return "ok"

        async def remove_all() -> int:
            return (await topics.remove_topic(f"?{root}//")).removed_count

        await step("add json/a", lambda: _then(topics.add_topic(f"{root}/json/a", dt.JSON), added))
        await step("add json/a again", lambda: _then(topics.add_topic(f"{root}/json/a", dt.JSON), added))
        await step("set json/a", lambda: set_and_ok("json/a", {"px": 1}, dt.JSON))
        await step(
            "add and set json/b", lambda: _then(topics.add_and_set_topic(f"{root}/json/b", dt.JSON, {"px": 2}), added)
        )
        await step("add text", lambda: _then(topics.add_topic(f"{root}/text", dt.STRING), added))
        await step("update stream on text", text_updates)
        await step("set json/a with a string", lambda: set_and_ok("json/a", "x", dt.STRING))
        await step("set a missing topic", lambda: set_and_ok("missing", {}, dt.JSON))
        await wait_until(lambda: len(values.get("text", [])) >= 3)
        await step("unsubscribe text", unsubscribe_text)
        await wait_until(lambda: "text" in unsubscribed)
        await step("set text after unsubscribing", lambda: set_and_ok("text", "d", dt.STRING))
        await step("remove all", remove_all)
        await wait_until(lambda: len(unsubscribed) >= 3)
    return {"steps": steps, "values": values, "unsubscribed": unsubscribed}


async def _then(awaitable: Any, convert: Any) -> Any:
    return convert(await awaitable)
