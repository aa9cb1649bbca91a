"""streamapp: Kafka <-> Diffusion and Kafka -> CoAP connectors as one Faust application.

Run it with ``faust -A streamapp worker``. The Faust app is created on first access of
``streamapp.app`` so that the ``streamapp`` command line (check-config, dev stack) does not need
valid worker settings.
"""

from __future__ import annotations

from typing import Any

__all__ = ["app", "__version__"]

__version__ = "0.1.0"

# Before anything imports the Diffusion SDK: its import cost and a memory leak (see the module).
from .diffusion import sdk_internals  # noqa: E402

sdk_internals.install()


def __getattr__(name: str) -> Any:
    if name == "app":
        from .application import app

        return app
    raise AttributeError(f"module 'streamapp' has no attribute {name!r}")
