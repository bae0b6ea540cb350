"""The tree passes the project's linter and is laid out by its formatter (ruff, configured in ``pyproject.toml``):
no unused import or name, imports sorted, no ambiguous names, and one layout that no one formats by hand."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_finds_nothing(command):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"ruff {' '.join(command)}:\n{done.stdout[-6000:]}{done.stderr[-2000:]}"
