"""The book's generated pages, as MyST markdown: the index, ``blueprint verify``'s table, each lesson's header.

The index is built from the lesson list of ``tutorials/README.md`` and the verify page from the command's
own JSON, so the book cannot drift from them. The hand-written pages (the idea, the notation, the backward
passes) live in ``docs/book/``; ``START`` and ``BACKGROUND`` say where each appears in the navigation.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

import ascii_math
from lessons import TUTORIALS, Run

PAPER = "https://arxiv.org/abs/2003.13549"
AUTHORS_CODE = "https://github.com/zeiss-microscopy/BSConv"
# The navigation. A new page of the book: write docs/book/NAME.md and add NAME to START (read before the
# lessons) or BACKGROUND (read beside them); "verify" and "performance" are generated, the others are
# docs/book/NAME.md.
START = ["idea", "notation"]
BACKGROUND = ["backward", "verify", "performance", "design"]
API_PAGES = ["api/reference", "api/accel", "api/layers", "api/convert", "api/models", "api/training", "api/analysis"]
# `N. [Title](NN_name.py) what it covers` with its continuation lines (indented by three spaces).
LESSON_ITEM = re.compile(r"^\d+\. \[(?P<title>[^\]]+)\]\((?P<script>\d\d_\w+)\.py\)(?P<summary>.*(?:\n {3}.*)*)", re.M)
# A lesson's header line: *Study time: ... Prerequisites: ...* (italic, possibly over several lines).
STUDY = re.compile(r"\*Study time: (?P<time>[^.]+)\. Prerequisites: (?P<needs>.*?)\*", re.S)


def lesson_summaries(readme: str) -> dict[str, tuple[str, str]]:
    """name -> (title, what it teaches and which equations), from the numbered list of ``tutorials/README.md``."""
    return {m["script"]: (m["title"], re.sub(r"\s+", " ", m["summary"])) for m in LESSON_ITEM.finditer(readme)}


def lesson_header(name: str) -> tuple[str, str, str]:
    """(title, study time, prerequisites) from the header of lesson ``name``: the page's own title, so that the
    front page and the navigation name a lesson alike."""
    text = (TUTORIALS / f"{name}.py").read_text()
    title = re.search(r"^# # (.+)$", text, re.M)
    found = STUDY.search(re.sub(r"\n# ", " ", text))
    if title is None or found is None:
        sys.exit(f"docs: tutorials/{name}.py needs a '# # Title' and a '*Study time: ... Prerequisites: ...*' line")
    return title[1], found["time"], found["needs"].strip()


def index_page(runs: list[Run]) -> str:
    """The front page: what the book is, then every lesson in order with what it teaches and its equations."""
    summaries = lesson_summaries((TUTORIALS / "README.md").read_text())
    missing = [run.name for run in runs if run.name not in summaries]
    if missing:
        sys.exit(f"docs: tutorials/README.md has no entry for the lessons {missing}")
    items = []
    for run in runs:
        title, time, needs = lesson_header(run.name)
        summary = summaries[run.name][1]
        items.append(f"- **[{title}](lessons/{run.name}.ipynb)**{summary}\n  *{time}; needs {needs}*")
    walk = "\n".join(items)
    toctree = "\n".join(
        f"```{{toctree}}\n:hidden:\n:caption: {caption}\n\n{entries}\n```\n"
        for caption, entries in [
            ("Start here", "\n".join(START)),
            ("Lessons", "\n".join(f"lessons/{run.name}" for run in runs)),
            ("Background", "\n".join(BACKGROUND)),
            ("API", "\n".join(API_PAGES)),
        ]
    )
    return f"""# Blueprint Separable Convolutions, step by step

Seven lessons take you from a trained convolution kernel to a trained BSConv network, following Haase & Amthor,
[*Rethinking Depthwise Separable Convolutions: How Intra-Kernel Correlations Lead to Improved
MobileNets*]({PAPER}) (CVPR 2020; the authors' code is [{AUTHORS_CODE.removeprefix("https://")}]({AUTHORS_CODE})).
Every lesson is a notebook executed to build this page: its code, what the code printed and the figures it
drew are inline, and every claim is checked with an `assert` as it runs. Each lesson ends with exercises whose
answers a checker judges, and offers its notebook for download: with blueprint installed
(`pip install -e ".[tutorials]"`) it runs in any folder.

Start with [the idea in a few lines](idea.md), which puts Eq. (2) and its factorization on one page, and keep
[the notation](notation.md) open beside the lessons.

## The lessons

{walk}

## Beyond the lessons

- [Backward passes](backward.md): the gradient of every op in index form, linked to its loops and its
  vectorized code.
- [The equations, verified](verify.md): the table that `blueprint verify` prints.
- The API, from the docstrings: [reference](api/reference.md) (NumPy, the specification), [accel](api/accel.md)
  (Numba), [layers](api/layers.md) (PyTorch), [convert](api/convert.md), [models](api/models.md),
  [training](api/training.md), [analysis and profiling](api/analysis.md).

{toctree}"""


def has_verify() -> bool:
    """Whether this version of blueprint has the ``blueprint verify`` command (one module per command)."""
    return importlib.util.find_spec("blueprint.commands.verify") is not None


def verify_page(fast: bool) -> str:
    """``blueprint verify``'s results, run now (2 cases per entry when ``fast``), as a table; a note where there is none."""
    if not has_verify():
        return (
            "# The equations, verified\n\n```{note}\nThis version of blueprint has no `blueprint verify` "
            "command yet; once it has, this page shows the table it prints.\n```\n"
        )
    print(f"docs: running blueprint verify{' --cases 2' if fast else ''} ...", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "verify.json"
        command = [
            sys.executable,
            "-m",
            "blueprint.cli",
            "verify",
            "--json",
            str(path),
            *(["--cases", "2"] if fast else []),
        ]
        run = subprocess.run(command, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(
                f"docs: blueprint verify failed (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
            )
        report = json.loads(path.read_text())
    rows = "\n".join(
        f"| {r['name']} `{r['key']}` | {ascii_math.marked_to_myst(r['statement'])} ({', '.join(r['backends'])}) | "
        f"{r['cases']} | {r['max_error']:.1e} | {r['tolerance']:.0e} | {'ok' if r['passed'] else 'FAIL'} |"
        for r in report["results"]
    )
    return (
        f"# The equations, verified\n\nEach row is an equation of the paper (or an identity the code relies on), "
        f"checked on {report['cases']} fresh random cases by `blueprint verify --seed {report['seed']}` while "
        f"this book was built. The statements are in the code's words (see [the notation](notation.md)), typeset "
        f"here from the ASCII math that the command prints between backquotes; the "
        f"error is the largest deviation between the two sides, relative to the larger side's largest entry."
        f"\n\n| equation | statement (backends) | cases | max error | tolerance | verdict |\n"
        f"| --- | --- | ---: | ---: | ---: | --- |\n{rows}\n"
    )


def lesson_page(run: Run, notebook_path: Path) -> nbformat.NotebookNode:
    """The executed notebook with a line under its title: the notebook to download, and how long it ran here."""
    notebook = nbformat.read(notebook_path, as_version=4)
    mode = " in fast mode (`BLUEPRINT_TUTORIAL_FAST=1`)" if run.fast else ""
    line = (
        f"**Run it yourself:** download {{download}}`{run.name}.ipynb <../notebooks/{run.name}.ipynb>` and open "
        f"it in any folder, with blueprint installed, or run `python tutorials/{run.name}.py`. "
        f"This page was executed{mode} in {run.seconds:.0f} s."
    )
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(line))
    return notebook
