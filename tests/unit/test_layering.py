"""The layering the operations layer relies on: it reads connectors only through their contract."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "streamapp"
# What streamapp.ops may import from streamapp: the connector contract, the registry of connector
# types (the plugins list), the worker runtime, the settings (`streamapp status` finds the worker
# with them) and the version. Nothing of a connector package (diffusion, coap, core.sink...).
OPS_MAY_IMPORT = {
    "streamapp",
    "streamapp.core.contract",
    "streamapp.core.registry",
    "streamapp.settings",
    "streamapp.worker",
}


def streamapp_imports(path: Path) -> set[str]:
    """Every streamapp module ``path`` imports (relative imports resolved)."""
    package = ".".join(path.parent.relative_to(PACKAGE.parent).parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            found.add(source)
            # `from .diffusion import config` imports the module streamapp.diffusion.config
            found |= {f"{source}.{alias.name}" for alias in node.names if _is_module(f"{source}.{alias.name}")}
    return {name for name in found if name == "streamapp" or name.startswith("streamapp.")}


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


@pytest.mark.parametrize("path", sorted((PACKAGE / "ops").glob("*.py")), ids=lambda p: p.name)
def test_ops_reads_connectors_only_through_the_contract(path: Path) -> None:
    outside = {name for name in streamapp_imports(path) if not name.startswith("streamapp.ops")}
    assert outside <= OPS_MAY_IMPORT, f"{path.name} imports {sorted(outside - OPS_MAY_IMPORT)}"


def test_the_import_reader_sees_relative_absolute_and_local_imports() -> None:
    assert streamapp_imports(PACKAGE / "ops" / "__init__.py") >= {"streamapp.ops.auth", "streamapp.worker"}
    assert "streamapp.core.contract" in streamapp_imports(PACKAGE / "ops" / "metrics.py")
    assert "streamapp.settings" in streamapp_imports(PACKAGE / "ops" / "status_view.py")  # inside a function
    assert "streamapp.diffusion.config" in streamapp_imports(
        PACKAGE / "connector_types.py"
    )  # from .diffusion import config


def test_no_connector_state_is_keyed_by_the_app_object() -> None:
    # State lives on the Worker object; id(app)-keyed module dictionaries outlived their app.
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if "id(app)" in p.read_text()]
    assert offenders == []
