"""The book of the lessons, built once per test session by ``docs/build.py`` in fast mode (shared fixtures).

``executed_lessons`` runs every lesson once as a notebook (``--no-site``); ``tests/test_tutorials.py`` checks
what they printed and drew, and ``book_site`` builds the site from those same executed notebooks
(``--no-execute``) for ``tests/test_docs.py``.
"""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "docs" / "build.py"
# The figures each lesson saves, in the order it shows them.
FIGURES = {
    "01_intra_kernel_correlations": ["01_kernel_slices.png", "01_pca_of_slices.png", "01_pc1_histogram.png"],
    "02_regular_to_bsconv_u": ["02_kernel_from_blueprints.png", "02_cost_ratio.png"],
    "03_bsconv_s_orthonormal_subspace": ["03_orthonormal_descent.png"],
    "04_dsc_is_reversed_bsconv": ["04_intra_vs_cross_fit.png", "04_fit_errors.png"],
    "05_backprop_by_hand": ["05_finite_difference_step.png", "05_gradient_checks.png"],
    "06_the_fast_path": ["06_timing.png"],
    "07_training_with_pytorch": [
        "07_training_curves.png", "07_conversion.png", "07_pc1_histogram.png", "07_kernel_slices.png",
        "07_bsconv_u_weight_spectrum.png",
    ],
}


def run_build(*args) -> None:
    """``docs/build.py`` with ``args``; fails the calling fixture with the build's own output if it fails."""
    run = subprocess.run([sys.executable, str(BUILD), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200)  # fmt: skip
    command = " ".join(map(str, args))
    assert run.returncode == 0, f"docs/build.py {command} failed:\n{run.stdout[-4000:]}\n{run.stderr[-6000:]}"


@pytest.fixture(scope="session")
def executed_lessons(tmp_path_factory) -> Path:
    """The folder with ``notebooks/`` and ``figures/`` of every lesson, executed in fast mode."""
    out = tmp_path_factory.mktemp("book")
    run_build("--fast", "--no-site", "--out", out)
    return out


@pytest.fixture(scope="session")
def book_site(executed_lessons) -> Path:
    """The built site (``html/``) of the executed lessons."""
    run_build("--fast", "--no-execute", "--out", executed_lessons)
    return executed_lessons / "html"
