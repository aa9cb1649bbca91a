"""The README's two set-up commands stay true: CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```sh\n(bash scripts/setup\.sh && [^\n]+)\n```", (ROOT / "README.md").read_text())
    assert commands == [
        "bash scripts/setup.sh && .venv/bin/streamapp dev",
        "bash scripts/setup.sh && .venv/bin/python -m pytest",
    ]
    ci = (ROOT / ".ci/run").read_text()
    assert "bash scripts/setup.sh" in ci and "\n.venv/bin/python -m pytest\n" in ci


def test_procfile_runs_the_faust_worker():
    assert (ROOT / "Procfile").read_text().strip() == "worker: faust -A streamapp worker -l info"
