"""Guards for streamapp.diffusion.sdk_internals: each fails loudly when the Diffusion SDK changes what it relies on."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import streamapp  # noqa: F401  (installs the import hook before the SDK is imported)
from streamapp.diffusion.sdk_internals import RESOLVER_MODULE


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
        print(len(calls), base.log.__streamapp_quiet__)
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
