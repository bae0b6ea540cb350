"""scripts/gpu_check.sh, the check a machine with a GPU runs: its steps, and a smoke run of them on the CPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.sh"


def run(*args, env=None):
    proc = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHON": sys.executable, **(env or {})},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_dry_run_lists_install_cuda_tests_throughput_with_compile_and_a_resumed_run():
    code, out, _ = run("--dry-run")
    assert code == 0
    for part in (
        "pip install --quiet --no-deps",
        "pytest -q -ra tests/test_cuda.py",
        "bench training --device cuda --amp --channels-last --compile",
        "--resume --epochs 2",
        "evaluate",
        "bench loader",
    ):
        assert part in out, part


@pytest.mark.slow
def test_smoke_run_on_the_cpu_passes_every_step_and_the_resumed_weights_are_equal(tmp_path):
    code, out, err = run("--smoke", str(tmp_path))
    assert code == 0, err[-2000:]
    assert "resumed weights equal the uninterrupted run's: True" in out and "every step passed" in out


def test_an_unknown_option_is_one_line():
    code, _, err = run("--fast")
    assert code == 2 and err.strip() == "gpu_check.sh: unknown option --fast (expected --dry-run, --smoke)"
