"""The seven lessons run in their fast mode and show and save their figures (executed documentation), end with
checked exercises, and keep their code within 88 columns.

Each lesson runs once per session as a notebook, in one kernel with its cells in order (``executed_lessons``,
which ``tests/test_docs.py`` builds the book from); a lesson is plain Python, so ``python tutorials/NN_*.py``
runs the same cells. Each exercise's folded solution (read from the lesson's markdown) must pass its checker in
``blueprint.course.exercises``, and a plausible wrong answer must be rejected with a reason.
"""

import base64
import re
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


# The exercises: each lesson's folded solutions, run through their checkers, and a wrong answer for each.
SOLUTION = re.compile(r"<details><summary>Solution (?P<key>\d\.\d)</summary>\s*```python\n(?P<code>.*?)```", re.S)


def wrong_answers():
    """One plausible wrong answer per exercise: the mistake its checker must name."""
    import numpy as np

    import reference

    def uncentered(slices):
        sigma = np.linalg.svd(slices.reshape(len(slices), -1), compute_uv=False)
        return sigma[0] ** 2 / np.sum(sigma**2)

    def centered(slices):
        return float(reference.pc1_explained_variance(slices[None])[0])

    def intra_error(kernel):
        w_pw, w_dw, _ = reference.blueprint_factorize(kernel)
        return np.linalg.norm(kernel - reference.bsconv_u_kernel(w_pw, w_dw)) / np.linalg.norm(kernel)

    def bsconv_s_backward_swapped(g, x, w_b, w_a, w_dw, b, stride, padding, dilation):
        _, cache = reference.bsconv_s_forward(x, w_b, w_a, w_dw, b, stride, padding, dilation)
        dx, dw_b, dw_a, dw_dw, db = reference.bsconv_s_backward(g, cache)
        return dx, dw_a, dw_b, dw_dw, db  # W^A's and W^B's gradients swapped

    def regular_loops(x, w):  # sums over every channel: a regular convolution, not a depthwise one
        return reference.conv2d_forward(x, np.repeat(w, x.shape[1], axis=1))[0]

    return {
        "1.1": uncentered,
        "1.2": reference.bsconv_u_kernel(np.arange(1.0, 5.0).reshape(1, 4, 1, 1), np.ones((1, 1, 3, 3)))[0],
        "1.3": centered,
        "2.1": lambda w_pw, w_dw: w_pw * w_dw[:, :1, :1, :1],
        "2.2": 1 / 9 + 1 / 128,
        "2.3": lambda m, n, k, size, stride: (n * m + n * k * k) * (size // stride) ** 2,
        "3.1": lambda w: 2 * (w @ w.T - np.eye(len(w))) @ w,  # without the division by L
        "3.2": 4,
        "3.3": lambda w, m_sub: (w, np.eye(w.shape[1])),
        "4.1": lambda w_dw, w_pw: w_pw.transpose(1, 0, 2, 3) * w_dw,  # (M, N, K, K): the grid transposed
        "4.2": intra_error,
        "4.3": 0,
        "5.1": lambda g, x, w: (np.einsum("nm,bnhw->bmhw", w[:, :, 0, 0], g), np.einsum("bnhw,bmhw->nm", g, x)),
        "5.2": bsconv_s_backward_swapped,
        "5.3": 1e-12,
        "6.1": regular_loops,
        "6.2": 9 / 8,
        "6.3": 1.0,
        "7.1": 64 * 64 + 64 * 9,
        "7.2": 1.8,
        "7.3": 0.25,
    }


def lesson_solutions(name: str) -> dict[str, str]:
    """key -> the code of the solution folded away in lesson ``name``'s markdown."""
    import jupytext

    notebook = jupytext.read(TUTORIALS / f"{name}.py")
    text = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    return {m["key"]: m["code"] for m in SOLUTION.finditer(text)}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_lesson_ends_with_three_checked_exercises_whose_solutions_pass_and_wrong_answers_fail(name):
    import math

    import numpy as np

    import blueprint
    import reference
    from blueprint.course.exercises import EXERCISES, check

    lesson = name[:2].lstrip("0")
    solutions = lesson_solutions(name)
    keys = sorted(key for key in EXERCISES if key.split(".")[0] == lesson)
    assert len(keys) >= 3, f"{name} has {len(keys)} exercises"
    assert sorted(solutions) == keys, f"{name}: solutions for {sorted(solutions)}, exercises {keys}"
    wrong = wrong_answers()
    for key in keys:
        namespace = {"np": np, "math": math, "reference": reference, "blueprint": blueprint}
        exec(solutions[key], namespace)
        verdict = check(key, namespace[EXERCISES[key].answer])
        assert verdict.right, f"the solution of {key} fails its checker: {verdict}"
        rejected = check(key, wrong[key])
        assert not rejected.right and "no answer yet" not in rejected.reason, f"{key} accepts a wrong answer"
        assert not check(key, None).right  # the lesson's blank


def test_every_lesson_checks_its_exercises_and_leaves_them_for_the_reader():
    """Each exercise's answer cell calls its checker on the blank the reader fills in (not on the solution)."""
    for name in sorted(FIGURES):
        source = (TUTORIALS / f"{name}.py").read_text()
        for key in lesson_solutions(name):
            assert f'check("{key}", ' in source, f"{name} never checks exercise {key}"


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_lesson_code_and_solutions_are_at_most_88_columns(name):
    import jupytext

    notebook = jupytext.read(TUTORIALS / f"{name}.py")
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    code += lesson_solutions(name).values()
    wide = [line for block in code for line in block.splitlines() if len(line) > 88]
    assert wide == [], f"{name}: {len(wide)} lines wider than 88 columns, e.g. {wide[0]!r}"
