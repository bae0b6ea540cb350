"""The lessons as notebooks: each jupytext script in ``tutorials/`` read as cells and executed in a Jupyter kernel.

A lesson runs exactly as a student's notebook would (one kernel, cells in order), in the folder ``<out>``, with
this checkout's packages on the path (``blueprint.course`` holds what the lessons share), its figures written to ``<out>/figures`` and, in fast mode,
``BLUEPRINT_TUTORIAL_FAST=1``. Each executed notebook is written to ``<out>/notebooks`` as soon as it is done, and
the seconds it took to ``<out>/notebooks/runs.json``.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
FIGURES, NOTEBOOKS, RUNS = "figures", "notebooks", "runs.json"


@dataclass(frozen=True)
class Run:
    """One executed lesson: its name (the script's stem), the mode it ran in, and how long it took.

    ``seconds`` is the wall-clock time of the kernel's start and cells; ``cpu_seconds`` the processor time the
    kernel used, which a busy machine does not inflate (the lessons run on one thread, lesson 6's timings on two).
    """

    name: str
    fast: bool
    seconds: float
    cpu_seconds: float


def lesson_scripts() -> list[Path]:
    """The lessons in order: ``tutorials/NN_*.py``."""
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def kernel_environment(fast: bool) -> dict[str, str]:
    """The environment a lesson's kernel runs in: this checkout's packages importable, figures to ``./figures``,
    no display (what a student's notebook has with blueprint installed)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": path,
        "BLUEPRINT_TUTORIAL_OUT": FIGURES,
        "BLUEPRINT_TUTORIAL_FAST": "1" if fast else "0",
        "MPLBACKEND": "Agg",
    }


def children_cpu_seconds() -> float:
    """User plus system time of this process's finished children (a kernel counts once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def execute(script: Path, out: Path, fast: bool, cell_timeout: int = 900) -> Run:
    """Execute ``script`` as a notebook in a fresh kernel in ``out``; write ``out/notebooks/<name>.ipynb``.

    A failing cell raises ``nbclient.exceptions.CellExecutionError`` with the cell's traceback.
    """
    import jupytext
    from nbclient import NotebookClient

    notebook = jupytext.read(script)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out.mkdir(parents=True, exist_ok=True)
    # coalesce_streams: what a cell prints is one block, however the kernel happened to flush it.
    # --log-level=ERROR: the kernel's start-up warnings (e.g. about its local TCP transport) are not the lesson's.
    client = NotebookClient(
        notebook,
        timeout=cell_timeout,
        kernel_name="python3",
        coalesce_streams=True,
        extra_arguments=["--log-level=ERROR"],
        resources={"metadata": {"path": str(out)}},
    )
    start, cpu_start = time.perf_counter(), children_cpu_seconds()
    client.execute(env=kernel_environment(fast))  # starts the kernel, runs every cell, shuts the kernel down
    seconds, cpu_seconds = time.perf_counter() - start, children_cpu_seconds() - cpu_start
    (out / NOTEBOOKS).mkdir(exist_ok=True)
    jupytext.write(notebook, out / NOTEBOOKS / f"{script.stem}.ipynb")
    return Run(script.stem, fast, round(seconds, 1), round(cpu_seconds, 1))


def execute_all(out: Path, fast: bool) -> list[Run]:
    """Execute every lesson in order, saying which one runs; ``out/notebooks/runs.json`` lists those done so far."""
    runs: list[Run] = []
    for script in lesson_scripts():
        print(f"docs: executing {script.name}{' (fast mode)' if fast else ''} ...", flush=True)
        runs.append(execute(script, out, fast))
        print(f"docs: {script.name} done in {runs[-1].seconds:.1f} s ({runs[-1].cpu_seconds:.1f} s CPU)", flush=True)
        (out / NOTEBOOKS / RUNS).write_text(json.dumps([asdict(run) for run in runs], indent=1))
    return runs


def load_runs(out: Path) -> list[Run]:
    """The runs recorded in ``out/notebooks/runs.json`` by an earlier ``execute_all``; every lesson must be there."""
    path = out / NOTEBOOKS / RUNS
    if not path.is_file():
        sys.exit(f"docs: no executed lessons in {path.parent} (run without --no-execute first)")
    runs = [Run(**run) for run in json.loads(path.read_text())]
    missing = sorted({s.stem for s in lesson_scripts()} - {run.name for run in runs})
    if missing:
        sys.exit(f"docs: {path.parent} lacks executed lessons {missing} (run without --no-execute first)")
    return runs
