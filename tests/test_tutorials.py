"""The seven lessons run in their fast mode and show and save their figures (executed documentation).

Each lesson runs once per session as a notebook, in one kernel with its cells in order (``executed_lessons``,
which ``tests/test_docs.py`` builds the book from); a lesson is plain Python, so ``python tutorials/NN_*.py``
runs the same cells.
"""
import base64
from pathlib import Path

import nbformat
import pytest

from book import FIGURES

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"


def test_every_tutorial_is_listed_here_and_in_the_readme_and_is_plain_python():
    scripts = sorted(p.stem for p in TUTORIALS.glob("[0-9][0-9]_*.py"))
    assert scripts == sorted(FIGURES)
    readme = (TUTORIALS / "README.md").read_text()
    assert all(f"{name}.py" in readme for name in scripts)
    for name in scripts:  # no notebook magics: a SyntaxError here means `python tutorials/<name>.py` fails
        compile((TUTORIALS / f"{name}.py").read_text(), f"{name}.py", "exec")


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_lesson_runs_and_shows_the_figures_it_saves(name, executed_lessons):
    notebook = nbformat.read(executed_lessons / "notebooks" / f"{name}.ipynb", as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    shown = [base64.b64decode(output.data["image/png"]) for output in outputs if "image/png" in output.get("data", {})]
    saved = [executed_lessons / "figures" / figure for figure in FIGURES[name]]
    for path in saved:
        assert path.is_file() and path.stat().st_size > 10_000, f"{name} did not write {path.name}"
    assert shown == [path.read_bytes() for path in saved], f"{name} does not show the figures it saves, in order"
