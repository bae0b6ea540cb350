"""The suite's hypothesis reporting under pytest-xdist (``tests/conftest.py``): every worker draws from the one
seed that the run prints, and ``property cases: N (seed S)`` adds up the examples of all workers.

Two property tests of known example counts run in a scratch project with this suite's ``conftest.py``, under
``-n 2 --dist each`` (each worker runs both, so both workers surely count); each example records what it drew.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

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


def run_properties(project: Path, drawn: Path, *args) -> str:
    drawn.mkdir()
    # Without the PYTEST_XDIST_* variables of a worker that may be running this test.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST_XDIST")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project, capture_output=True, text=True, timeout=300, env=dict(env, DRAWN=str(drawn)),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def drawn_by(drawn: Path, worker: str) -> dict[str, list[str]]:
    return {name: (drawn / f"{worker}-{name}.txt").read_text().split() for name in EXAMPLES}


def test_two_workers_share_one_seed_and_their_counts_add_up(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("conftest.py", "book.py"):
        shutil.copy(HERE / name, project / name)
    (project / "test_properties.py").write_text(PROPERTIES)

    output = run_properties(project, tmp_path / "xdist", "-n", "2", "--dist", "each")
    header = re.search(r"hypothesis seed: (\d+)", output)
    summary = re.findall(r"property cases: (\d+) \(seed (\d+)\)", output)
    assert header and len(summary) == 1, output
    cases, seed = summary[0]
    assert seed == header.group(1)
    assert int(cases) == 2 * sum(EXAMPLES.values())
    gw0, gw1 = drawn_by(tmp_path / "xdist", "gw0"), drawn_by(tmp_path / "xdist", "gw1")
    assert gw0 == gw1
    assert {name: len(values) for name, values in gw0.items()} == EXAMPLES

    alone = run_properties(project, tmp_path / "alone", f"--hypothesis-seed={seed}")
    assert f"property cases: {sum(EXAMPLES.values())} (seed {seed})" in alone
    assert drawn_by(tmp_path / "alone", "main") == gw0
