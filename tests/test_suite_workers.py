"""The suite under pytest-xdist (``tests/conftest.py``): every worker draws from the one seed that the run prints,
``property cases: N (seed S)`` adds up the examples of all workers, and the book's tests share one worker.

The tests run in a scratch project with this suite's ``conftest.py`` and ``book.py``: two property tests of
known example counts under ``-n 2 --dist each`` (each worker runs both, so both workers surely count), each
example recording what it drew; and stand-ins for the book's test files beside others under ``-n 2``.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from book import BOOK_FILES

HERE = Path(__file__).resolve().parent
EXAMPLES = {"test_seven": 7, "test_five": 5}
PROPERTIES = """
import os
from pathlib import Path

from hypothesis import given, settings, strategies as st


def record(name, value):
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(Path(os.environ["DRAWN"]) / f"{worker}-{name}.txt", "a") as file:
        file.write(f"{value}\\n")


@settings(max_examples=7, database=None)
@given(st.integers())
def test_seven(value):
    record("test_seven", value)


@settings(max_examples=5, database=None)
@given(st.integers())
def test_five(value):
    record("test_five", value)
"""


# Stand-ins for the book's tests and for the rest: each records the worker it ran on.
RECORDS_WORKER = """
import os
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("index", range({count}))
def test_records_its_worker(index):
    time.sleep(0.2)
    with open(Path(os.environ["DRAWN"]) / f"{{__name__}}-{{index}}.txt", "w") as file:
        file.write(os.environ["PYTEST_XDIST_WORKER"])
"""


def scratch_project(tmp_path: Path, files: dict[str, str]) -> Path:
    """A project at ``tmp_path / "project"`` with this suite's ``conftest.py`` and ``book.py`` and ``files`` in its
    ``tests/``; returns the project."""
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    for name in ("conftest.py", "book.py"):
        shutil.copy(HERE / name, project / "tests" / name)
    for name, text in files.items():
        (project / "tests" / name).write_text(text)
    return project


def run_pytest(project: Path, drawn: Path, *args) -> str:
    """pytest on ``project/tests`` with ``args``, ``DRAWN=drawn`` for what the tests record; returns its output."""
    drawn.mkdir()
    # Without the PYTEST_XDIST_* variables of a worker that may be running this test.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_XDIST")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(project), "tests", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(env, DRAWN=str(drawn)),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def drawn_by(drawn: Path, worker: str) -> dict[str, list[str]]:
    return {name: (drawn / f"{worker}-{name}.txt").read_text().split() for name in EXAMPLES}


def test_two_workers_share_one_seed_and_their_counts_add_up(tmp_path):
    project = scratch_project(tmp_path, {"test_properties.py": PROPERTIES})

    output = run_pytest(project, tmp_path / "xdist", "-n", "2", "--dist", "each")
    header = re.search(r"hypothesis seed: (\d+)", output)
    summary = re.findall(r"property cases: (\d+) \(seed (\d+)\)", output)
    assert header and len(summary) == 1, output
    cases, seed = summary[0]
    assert seed == header.group(1)
    assert int(cases) == 2 * sum(EXAMPLES.values())
    gw0, gw1 = drawn_by(tmp_path / "xdist", "gw0"), drawn_by(tmp_path / "xdist", "gw1")
    assert gw0 == gw1
    assert {name: len(values) for name, values in gw0.items()} == EXAMPLES

    alone = run_pytest(project, tmp_path / "alone", f"--hypothesis-seed={seed}")
    assert f"property cases: {sum(EXAMPLES.values())} (seed {seed})" in alone
    assert drawn_by(tmp_path / "alone", "main") == gw0


def test_the_book_tests_run_on_one_worker_and_the_rest_on_every_worker(tmp_path):
    books = {name.split("/")[1]: RECORDS_WORKER.format(count=3) for name in BOOK_FILES}
    project = scratch_project(tmp_path, {**books, "test_rest.py": RECORDS_WORKER.format(count=8)})
    run_pytest(project, tmp_path / "drawn", "-n", "2")
    ran_on = {path.stem: path.read_text() for path in (tmp_path / "drawn").iterdir()}
    assert len(ran_on) == 2 * 3 + 8
    book = {worker for name, worker in ran_on.items() if not name.startswith("test_rest")}
    assert len(book) == 1 and set(ran_on.values()) == {"gw0", "gw1"}
