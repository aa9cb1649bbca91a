"""The tree stays formatted and lint-clean (ruff, configured in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["streamapp", "tests", "bench"]


def _ruff() -> str:
    found = Path(sys.executable).with_name("ruff")
    if found.exists():
        return str(found)
    on_path = shutil.which("ruff")
    if on_path is None:
        pytest.skip("ruff is not installed: pip install -e '.[dev]'")
    return on_path


@pytest.mark.parametrize(
    ("command", "repair"),
    [(["check", "--no-fix"], "ruff check --fix"), (["format", "--check"], "ruff format")],
    ids=["lint", "format"],
)
def test_ruff(command: list[str], repair: str) -> None:
    done = subprocess.run([_ruff(), *command, *PATHS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{done.stdout}{done.stderr}\nrepair with: {repair} {' '.join(PATHS)}"
