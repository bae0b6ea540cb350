"""The book's generated pages, as MyST markdown: the index, the README's idea section, ``blueprint verify``'s table.

Each page is built from text that already exists elsewhere, so the book cannot drift from it: the lesson list
of ``tutorials/README.md``, the section "The idea in a few lines" of ``README.md``, the output of the command.
"""
from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from lessons import ROOT, TUTORIALS, Run

IDEA_HEADING = "## The idea in a few lines"
API_PAGES = ["api/reference", "api/accel", "api/layers", "api/convert", "api/models", "api/training", "api/analysis"]
# `N. [Title](NN_name.py) what it covers` with its continuation lines (indented by three spaces).
LESSON_ITEM = re.compile(r"^\d+\. \[(?P<title>[^\]]+)\]\((?P<script>\d\d_\w+)\.py\)(?P<summary>.*(?:\n {3}.*)*)", re.M)


def lesson_summaries(readme: str) -> dict[str, tuple[str, str]]:
    """name -> (title, what it teaches and which equations), from the numbered list of ``tutorials/README.md``."""
    return {m["script"]: (m["title"], re.sub(r"\s+", " ", m["summary"])) for m in LESSON_ITEM.finditer(readme)}


def index_page(runs: list[Run]) -> str:
    """The front page: what the book is, then every lesson in order with what it teaches and its equations."""
    summaries = lesson_summaries((TUTORIALS / "README.md").read_text())
    missing = [run.name for run in runs if run.name not in summaries]
    if missing:
        sys.exit(f"docs: tutorials/README.md has no entry for the lessons {missing}")
    walk = "\n".join(f"{number}. **[{summaries[run.name][0]}](lessons/{run.name}.ipynb)**{summaries[run.name][1]}"
                     for number, run in enumerate(runs, start=1))  # fmt: skip
    lessons = "\n".join(f"lessons/{run.name}" for run in runs)
    api = "\n".join(API_PAGES)
    return f"""# Blueprint Separable Convolutions, step by step

Seven lessons take you from a trained convolution kernel to a trained BSConv network, following Haase & Amthor,
*Rethinking Depthwise Separable Convolutions: How Intra-Kernel Correlations Lead to Improved MobileNets*
(CVPR 2020). Every lesson is a notebook executed to build this page: its code, what the code printed and the
figures it drew are inline, and every claim is checked with an `assert` as it runs. Each lesson page offers the
executed notebook for download; `pip install -e ".[tutorials]"` installs what you need to run it yourself.

Start with [the idea in a few lines](idea.md) if you want the whole argument on one page first.

## The lessons

{walk}

## Beyond the lessons

- [The idea in a few lines](idea.md): the factorization and its two code checks, from the project's README.
- [The equations, verified](verify.md): the table that `blueprint verify` prints.
- The API, from the docstrings: [reference](api/reference.md) (NumPy, the specification), [accel](api/accel.md)
  (Numba), [layers](api/layers.md) (PyTorch), [convert](api/convert.md), [models](api/models.md),
  [training](api/training.md), [analysis and profiling](api/analysis.md).

```{{toctree}}
:hidden:
:caption: Lessons

{lessons}
```

```{{toctree}}
:hidden:
:caption: Background

idea
verify
performance
design
```

```{{toctree}}
:hidden:
:caption: API

{api}
```
"""


def idea_page() -> str:
    """The section "The idea in a few lines" of ``README.md``, as a page of its own."""
    readme = (ROOT / "README.md").read_text()
    start = readme.find(IDEA_HEADING)
    if start < 0:
        sys.exit(f"docs: README.md has no section {IDEA_HEADING!r}")
    body = readme[start + len(IDEA_HEADING):]
    end = body.find("\n## ")
    section = body if end < 0 else body[:end]
    return f"# The idea in a few lines\n\n*From the project's README.*\n{section.rstrip()}\n"


def has_verify() -> bool:
    """Whether this version of blueprint has the ``blueprint verify`` command (one module per command)."""
    return importlib.util.find_spec("blueprint.commands.verify") is not None


def verify_page(fast: bool) -> str:
    """What ``blueprint verify`` prints, run now (2 cases per equation when ``fast``); a note where there is none."""
    if not has_verify():
        return ("# The equations, verified\n\n```{note}\nThis version of blueprint has no `blueprint verify` "
                "command yet; once it has, this page shows the table it prints.\n```\n")
    command = [sys.executable, "-m", "blueprint.cli", "verify", *(["--cases", "2"] if fast else [])]
    print(f"docs: running blueprint verify{' --cases 2' if fast else ''} ...", flush=True)
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"docs: blueprint verify failed (exit {run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    return ("# The equations, verified\n\nEach row is an equation of the paper (or an identity the code relies on), "
            "checked on fresh random cases by `blueprint verify` while this book was built:\n\n"
            f"```text\n{run.stdout.rstrip()}\n```\n")


def lesson_page(run: Run, notebook_path: Path) -> nbformat.NotebookNode:
    """The executed notebook with a line under its title: the notebook to download, and how long it ran here."""
    notebook = nbformat.read(notebook_path, as_version=4)
    mode = " in fast mode (`BLUEPRINT_TUTORIAL_FAST=1`)" if run.fast else ""
    line = (f"**Run it yourself:** download {{download}}`{run.name}.ipynb <../notebooks/{run.name}.ipynb>` into "
            f"`tutorials/`, beside the `lesson_kit.py` it imports, or run `python tutorials/{run.name}.py`. "
            f"This page was executed{mode} in {run.seconds:.0f} s.")
    notebook.cells.insert(1, nbformat.v4.new_markdown_cell(line))
    return notebook
