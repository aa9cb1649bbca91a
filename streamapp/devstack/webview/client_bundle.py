"""Where the official Diffusion JavaScript client is installed (npm ``diffusion``, never committed).

``scripts/setup.sh`` runs ``npm ci`` at the repository root, so a checkout has it in
``node_modules/diffusion``. The package holds the Node entry point (``src/diffusion.js``, used by
the tests' Node scenario) and the browser bundle (``dist/diffusion.js``, served by the web view).
``STREAMAPP_NODE_MODULES`` names another ``node_modules`` directory (an installed streamapp has no
repository root to look in).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from streamapp.errors import StreamAppError

__all__ = ["DIFFUSION_JS_VERSION", "DiffusionClientMissing", "diffusion_package_dir", "browser_bundle"]

#: The version package.json pins (the JavaScript client speaks protocol 29).
DIFFUSION_JS_VERSION = "6.12.1"


class DiffusionClientMissing(StreamAppError):
    """The npm package is not installed where streamapp looks for it."""


def _candidates() -> list[Path]:
    explicit = os.environ.get("STREAMAPP_NODE_MODULES")
    if explicit:
        return [Path(explicit)]
    here = Path(__file__).resolve()
    # The repository root of a checkout (editable install), then the working directory.
    return [parent / "node_modules" for parent in here.parents] + [Path.cwd() / "node_modules"]


def diffusion_package_dir() -> Path:
    """The installed npm ``diffusion`` package directory; raises DiffusionClientMissing."""
    for modules in _candidates():
        manifest = modules / "diffusion" / "package.json"
        if manifest.is_file():
            return manifest.parent
    looked = ", ".join(str(p) for p in _candidates()[:3])
    raise DiffusionClientMissing(
        f"the Diffusion JavaScript client (npm diffusion {DIFFUSION_JS_VERSION}) is not installed "
        f"(looked in {looked}...): run scripts/setup.sh, or `npm ci` at the repository root, "
        "or set STREAMAPP_NODE_MODULES"
    )


def browser_bundle() -> Path:
    """``dist/diffusion.js``: the client's browser build (global ``diffusion``)."""
    package = diffusion_package_dir()
    bundle = package / "dist" / "diffusion.js"
    if not bundle.is_file():
        version = json.loads((package / "package.json").read_text(encoding="utf-8")).get("version")
        raise DiffusionClientMissing(f"npm diffusion {version} in {package} has no browser bundle dist/diffusion.js")
    return bundle
