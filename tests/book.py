"""The book of the lessons, built once per test run by ``docs/build.py`` in fast mode (shared fixtures).

``executed_lessons`` runs every lesson once as a notebook (``--no-site``); ``tests/test_tutorials.py`` checks
what they printed and drew, and ``book_site`` builds the site from those same executed notebooks
(``--no-execute``) for ``tests/test_docs.py``. Under pytest-xdist each worker has its own session, so the build
goes into the run's shared temporary folder under a file lock: the first worker that asks builds, the others
wait for it and find the build done (``build_once``). ``book_scheduler`` (``tests/conftest.py`` gives it to xdist)
also sends every test of ``BOOK_FILES`` to one worker, first, so that no second worker sits waiting for the build.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "docs" / "build.py"
# The test files whose tests use the fixtures below, as pytest names them from the root (a nodeid's file part).
BOOK_FILES = ("tests/test_tutorials.py", "tests/test_docs.py")
# The figures each lesson saves, in the order it shows them.
FIGURES = {
    "01_intra_kernel_correlations": ["01_kernel_slices.png", "01_pca_of_slices.png", "01_pc1_histogram.png"],
    "02_regular_to_bsconv_u": ["02_kernel_from_blueprints.png", "02_cost_ratio.png"],
    "03_bsconv_s_orthonormal_subspace": ["03_orthonormal_descent.png"],
    "04_dsc_is_reversed_bsconv": ["04_intra_vs_cross_fit.png", "04_fit_errors.png"],
    "05_backprop_by_hand": ["05_finite_difference_step.png", "05_gradient_checks.png"],
    "06_the_fast_path": ["06_timing.png"],
    "07_training_with_pytorch": [
        "07_training_curves.png",
        "07_conversion.png",
        "07_pc1_histogram.png",
        "07_kernel_slices.png",
        "07_bsconv_u_weight_spectrum.png",
    ],
}


def run_build(*args) -> None:
    """``docs/build.py`` with ``args``; fails the calling fixture with the build's own output if it fails."""
    run = subprocess.run(
        [sys.executable, str(BUILD), *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    command = " ".join(map(str, args))
    assert run.returncode == 0, f"docs/build.py {command} failed:\n{run.stdout[-4000:]}\n{run.stderr[-6000:]}"


def run_folder(tmp_path_factory) -> Path:
    """The temporary folder of the whole run: the session's own without xdist, its workers' common parent with."""
    basetemp = tmp_path_factory.getbasetemp()
    return basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp


def build_once(tmp_path_factory, step: str, *args) -> Path:
    """``docs/build.py --fast *args --out BOOK`` once per run, whichever worker asks first; returns ``BOOK``.

    The step's mark file is written only after a build that succeeded, so a worker that finds it skips the
    build, and one that takes the lock after a failed build runs it again (and fails with its output)."""
    shared = run_folder(tmp_path_factory)
    book = shared / "book"
    with FileLock(str(shared / "book.lock")):
        done = book / f".{step}-done"
        if not done.exists():
            book.mkdir(exist_ok=True)
            run_build("--fast", *args, "--out", book)
            done.touch()
    return book


@pytest.fixture(scope="session")
def executed_lessons(tmp_path_factory) -> Path:
    """The folder with ``notebooks/`` and ``figures/`` of every lesson, executed in fast mode."""
    return build_once(tmp_path_factory, "executed", "--no-site")


@pytest.fixture(scope="session")
def book_site(tmp_path_factory, executed_lessons) -> Path:
    """The built site (``html/``) of the executed lessons."""
    return build_once(tmp_path_factory, "site", "--no-execute") / "html"


def book_scheduler(config, log):
    """pytest-xdist's load scheduling (each test to the next free worker), except that the tests of ``BOOK_FILES``
    are one unit of work, which goes out first (xdist sends the units with the most tests first).

    (xdist's own ``--dist loadgroup`` would do this with marks, but under pytest 9.2 its renaming of the tests'
    nodeids, by which it groups them, no longer takes effect.)"""
    from xdist.scheduler import LoadScopeScheduling

    class BookOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "book" if nodeid.split("::")[0] in BOOK_FILES else nodeid

    return BookOnOneWorker(config, log)
