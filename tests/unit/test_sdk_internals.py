"""Guards for streamapp.diffusion.sdk_internals: each fails loudly when the Diffusion SDK changes what it relies on."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import streamapp  # noqa: F401  (installs the import hook before the SDK is imported)
from streamapp.diffusion.sdk_internals import CONVERSATIONS_MODULE, RESOLVER_MODULE
from tests.fixtures.net import free_tcp_port


def test_the_sdk_still_walks_the_stack_in_its_resolver_log():
    # If this fails, the SDK no longer calls inspect.stack() in log(): drop speed_up_sdk_import.
    import importlib

    module = importlib.import_module(RESOLVER_MODULE)
    original = getattr(module.log, "__wrapped__", module.log)
    source = inspect.getsource(original)
    assert "inspect.stack(" in source and "DEBUG_RESOLVER" in source


def test_importing_the_sdk_after_streamapp_never_walks_the_stack():
    script = textwrap.dedent(
        """
        import inspect
        calls = []
        real = inspect.stack
        inspect.stack = lambda *a, **k: calls.append(1) or real(*a, **k)
        import streamapp
        import diffusion, diffusion.datatypes
        from diffusion.internal.serialisers import base
        print(len(calls), base.log.__streamapp__)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["0", "True"]


def test_without_the_hook_the_sdk_import_walks_the_stack_hundreds_of_times():
    # The cost the hook removes (seconds of CPU per worker start), counted rather than timed.
    script = textwrap.dedent(
        """
        import inspect
        calls = []
        real = inspect.stack
        inspect.stack = lambda *a, **k: calls.append(1) or real(*a, **k)
        import diffusion.datatypes
        print(len(calls))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert int(done.stdout) > 100


def test_debug_resolver_still_reaches_the_sdks_own_log(monkeypatch):
    import importlib

    module = importlib.import_module(RESOLVER_MODULE)
    seen: list[str] = []
    monkeypatch.setenv("DEBUG_RESOLVER", "1")
    monkeypatch.setattr(module, "LOG", type("Log", (), {"debug": staticmethod(seen.append)})())
    module.log("resolving something")
    assert [line.strip() for line in seen] == ["resolving something"]
    monkeypatch.delenv("DEBUG_RESOLVER")
    module.log("dropped")
    assert len(seen) == 1


def test_the_sdk_still_drops_conversations_only_when_the_session_closes():
    # If this fails, the SDK manages its conversation set differently: re-read it, and drop or adapt
    # the forgetting of finished conversations.
    import importlib

    module = importlib.import_module(CONVERSATIONS_MODULE)
    conversation_set = inspect.getsource(module.ConversationSet)
    assert conversation_set.count("self.conversations = {}") == 1  # discard_all, and nowhere else empties it
    assert ".pop(" not in conversation_set and "del self.conversations" not in conversation_set
    respond = inspect.getsource(inspect.unwrap(module.Conversation.respond))
    assert "return Result.HANDLED_AND_FINISHED" in respond and "return Result.ALREADY_FINISHED" in respond
    assert "_set_discard_reason" in conversation_set and "self._cset = conversation_set" in inspect.getsource(
        module.Conversation.__init__
    )


_COUNT_CONVERSATIONS = textwrap.dedent(
    """
    import asyncio, logging, sys
    logging.disable(logging.CRITICAL)
    if sys.argv[2] == "with-streamapp":
        import streamapp
    import diffusion, diffusion.datatypes as dt

    async def main():
        factory = diffusion.sessions().principal("admin").credentials(diffusion.Credentials("password"))
        session = await factory.open(sys.argv[1])
        await session.topics.add_and_set_topic("c/x", dt.JSON, {"n": 0})
        await asyncio.gather(*(session.topics.set_topic("c/x", {"n": i}, dt.JSON) for i in range(300)))
        errors = 0
        for i in range(20):  # refused by the server: completed by an error response
            try:
                await session.topics.set_topic("c/missing", {"n": i}, dt.JSON)
            except Exception:
                errors += 1
        print(len(session._internal.conversations), errors)
        await session.close()

    asyncio.run(main())
    """
)


@pytest.mark.parametrize(("mode", "kept"), [("with-streamapp", "0"), ("bare-sdk", "321")])
def test_finished_conversations_are_forgotten_once_streamapp_is_imported(tmp_path, mode, kept):
    port = free_tcp_port()
    emulator = subprocess.Popen(
        [str(Path(sys.executable).with_name("streamapp")), "diffusion-emulator", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert "listening" in emulator.stdout.readline()
        done = subprocess.run(
            [sys.executable, "-c", _COUNT_CONVERSATIONS, f"ws://127.0.0.1:{port}", mode],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    finally:
        emulator.terminate()
        emulator.wait(10)
    assert done.stdout.split() == [kept, "20"]
