"""The warm-start study on digits: how many epochs a BSConv variant needs to come within 0.5 points of its baseline.

From a ``digits_cnn`` trained with the digits recipe, each variant is trained with the same recipe over ``epochs``
by three paths, one run per seed:

- ``scratch``: the zoo's fresh initialization;
- ``init``: ``fit(init_from=baseline)``: SVD conversion of the trained baseline, BatchNorm recalibrated;
- ``init+distill``: that, with the baseline as the teacher (``teacher=baseline``, the default T and weight).

Each run's test accuracy is recorded after every epoch, and at epoch 0 (the model the run starts from). The
summary gives, per variant and path, the epochs until the test accuracy first comes within each of ``MARGINS``
of the baseline's (0.5 points, the study's question, and the wider 2 and 5 points that show the early epochs;
median and range over the seeds that got there, and how many did) and the final accuracy.

``python -m blueprint.studies.warm_start`` writes ``docs/measurements/warm_start_digits.json`` and ``.png``;
everything runs on one CPU thread.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time

import torch

from blueprint import plotting
from blueprint.models import create
from blueprint.paths import atomic_text
from blueprint.training.config import recipe
from blueprint.training.data import make_loader
from blueprint.training.loop import evaluate, fit
from blueprint.training.trained import load_trained
from blueprint.training.warm_start import RECALIBRATION_BATCHES, warm_start

MARGINS = (0.005, 0.02, 0.05)  # within 0.5, 2 and 5 points of the baseline's test accuracy
PATHS = ("scratch", "init", "init+distill")
VARIANTS = ("digits_cnn_bsconvu", "digits_cnn_bsconvs_p1d4")


def start_accuracy(config, path: str, baseline_ckpt: str) -> float:
    """Test accuracy of the model a run of ``config`` by ``path`` starts from (what ``fit`` builds first)."""
    loader = make_loader(config, "cpu")
    torch.manual_seed(config.seed)
    if path == "scratch":
        model = create(config.model, num_classes=loader.num_classes)
    else:
        baseline, _ = load_trained(baseline_ckpt, "baseline")
        batches = itertools.islice(loader.train_batches(0), min(RECALIBRATION_BATCHES, loader.train_steps()))
        model = warm_start(baseline, config.model, loader.num_classes, batches)
    return evaluate(model, loader, "cpu")[1]


def run_path(
    dataset: str, model: str, path: str, seed: int, epochs: int, baseline_ckpt: str, folder: str, **overrides
) -> list[float]:
    """Test accuracies at epochs 0..``epochs`` of one run of ``model`` by ``path`` (see the module docstring)."""
    config = recipe(dataset, model=model, epochs=epochs, seed=seed, threads=1, output_dir=folder, **overrides)
    sources = {
        "scratch": {},
        "init": {"init_from": baseline_ckpt},
        "init+distill": {"init_from": baseline_ckpt, "teacher": baseline_ckpt},
    }[path]
    result = fit(config, overwrite=True, log=lambda _: None, **sources)
    return [start_accuracy(config, path, baseline_ckpt)] + [row["test_acc"] for row in result.history]


def epochs_to_reach(curve: list[float], target: float) -> int | None:
    """The first epoch (0 = the start) at which ``curve`` reaches ``target``, else None."""
    return next((epoch for epoch, acc in enumerate(curve) if acc >= target), None)


def reach(epochs: list[int | None]) -> dict:
    """Median and range of the epochs over the seeds that got there (None where none did), and how many did."""
    got = [e for e in epochs if e is not None]
    return dict(
        reached=len(got), median=statistics.median(got) if got else None, range=[min(got), max(got)] if got else None
    )


def summarize(rows: list[dict], baseline_acc: float) -> list[dict]:
    """Per (model, path): epochs to within each margin of the baseline (``reach``), final and starting accuracies."""
    out = []
    for (model, path), group in itertools.groupby(rows, key=lambda r: (r["model"], r["path"])):
        group = list(group)
        final = [r["test_acc"][-1] for r in group]
        within = {f"{m:g}": reach([r["epochs_to_baseline"][f"{m:g}"] for r in group]) for m in MARGINS}
        out.append(
            dict(
                model=model,
                path=path,
                seeds=len(group),
                within=within,
                final_median=statistics.median(final),
                final_range=[min(final), max(final)],
                start_median=statistics.median(r["test_acc"][0] for r in group),
                baseline_acc=baseline_acc,
            )
        )
    return out


def _reach_text(r: dict, seeds: int, epochs: int) -> str:
    if not r["reached"]:
        return f"> {epochs} (0/{seeds})"
    return f"{r['median']:g} [{r['range'][0]}-{r['range'][1]}] ({r['reached']}/{seeds})"


def table(summary: list[dict], epochs: int) -> str:
    """The summary as a Markdown table: epochs to within each margin as median [range] (seeds that got there)."""
    margins = " | ".join(f"epochs to within {100 * m:g} points" for m in MARGINS)
    lines = [
        f"| model | path | start acc. | {margins} | final acc. (median [range]) |",
        "| --- | --- | ---: | " + "---: | " * len(MARGINS) + "---: |",
    ]
    for s in summary:
        within = " | ".join(_reach_text(s["within"][f"{m:g}"], s["seeds"], epochs) for m in MARGINS)
        lines.append(
            f"| {s['model']} | {s['path']} | {s['start_median']:.1%} | {within} | "
            f"{s['final_median']:.2%} [{s['final_range'][0]:.2%}-{s['final_range'][1]:.2%}] |"
        )
    return "\n".join(lines)


def plot(rows: list[dict], baseline_acc: float, path: str, title: str, window: float | None = 25.0) -> None:
    """Test accuracy against the epoch: per model a panel, per path the median over seeds and the min-max band;
    the accuracy axis spans ``window`` points below the baseline (None: all of 0-100%)."""
    from matplotlib.ticker import MaxNLocator

    models = list(dict.fromkeys(r["model"] for r in rows))
    fig = plotting.figure(0.6 + 4.2 * len(models))
    for ax, model in zip(fig.subplots(len(models), 1, squeeze=False)[:, 0], models):
        for i, name in enumerate(PATHS):
            curves = torch.tensor([r["test_acc"] for r in rows if r["model"] == model and r["path"] == name]) * 100
            if not len(curves):
                continue
            epochs = range(curves.shape[1])
            ax.plot(epochs, curves.median(0).values, color=f"C{i}", label=f"{name} (median of {len(curves)})")
            ax.fill_between(epochs, curves.min(0).values, curves.max(0).values, color=f"C{i}", alpha=0.2)
        ax.axhline(100 * baseline_acc, color="k", ls="--", lw=1, label=f"baseline {baseline_acc:.1%}")
        ax.axhline(100 * (baseline_acc - MARGINS[0]), color="k", ls=":", lw=1, label="baseline - 0.5")
        ax.set(
            xlabel="epoch (0: the start)",
            ylabel="test accuracy (%)",
            title=model,
            ylim=(max(0.0, 100 * baseline_acc - window) if window else 0.0, 100.5),
        )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(title)
    plotting.save(fig, path)


def train_baseline(dataset: str, model: str, epochs: int, folder: str, **overrides) -> tuple[str, float]:
    """Train the baseline once (seed 0); returns its last.pt and final test accuracy."""
    config = recipe(dataset, model=model, epochs=epochs, seed=0, threads=1, output_dir=folder, **overrides)
    result = fit(config, overwrite=True, log=lambda _: None)
    return os.path.join(folder, "last.pt"), result.history[-1]["test_acc"]


def study(
    dataset: str, baseline: str, variants, seeds: int, epochs: int, baseline_epochs: int, workdir: str, **overrides
) -> dict:
    """Every run of the study (see the module docstring); returns the JSON document."""
    began = time.perf_counter()
    ckpt, baseline_acc = train_baseline(
        dataset, baseline, baseline_epochs, os.path.join(workdir, "baseline"), **overrides
    )
    print(f"{baseline}: {baseline_acc:.2%} after {baseline_epochs} epochs", flush=True)
    rows = []
    for model, path, seed in itertools.product(variants, PATHS, range(seeds)):
        curve = run_path(dataset, model, path, seed, epochs, ckpt, os.path.join(workdir, "run"), **overrides)
        rows.append(
            dict(
                model=model,
                path=path,
                seed=seed,
                epochs=epochs,
                test_acc=curve,
                epochs_to_baseline={f"{m:g}": epochs_to_reach(curve, baseline_acc - m) for m in MARGINS},
            )
        )
        print(
            f"{model} {path} seed {seed}: start {curve[0]:.2%}, final {curve[-1]:.2%}, epochs to within "
            f"{MARGINS} of the baseline: {list(rows[-1]['epochs_to_baseline'].values())}",
            flush=True,
        )
    return dict(
        dataset=dataset,
        baseline=baseline,
        baseline_epochs=baseline_epochs,
        baseline_acc=baseline_acc,
        margins=list(MARGINS),
        threads=1,
        seconds=time.perf_counter() - began,
        overrides=overrides,
        summary=summarize(rows, baseline_acc),
        rows=rows,
    )


def write(document: dict, json_path: str, figure_path: str, title: str, window: float | None = 25.0) -> None:
    """The document as JSON and its curves (``plot``) as PNG."""
    atomic_text(json_path, json.dumps(document, indent=1) + "\n")
    plot(document["rows"], document["baseline_acc"], figure_path, title, window)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m blueprint.studies.warm_start", description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=15, help="epochs of each variant's run")
    p.add_argument("--baseline-epochs", type=int, default=30, help="epochs of the baseline (the digits recipe's)")
    p.add_argument("--json", default="docs/measurements/warm_start_digits.json")
    p.add_argument("--figure", default="docs/measurements/warm_start_digits.png")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as workdir:
        document = study("digits", "digits_cnn", VARIANTS, args.seeds, args.epochs, args.baseline_epochs, workdir)
    document["command"] = "python -m blueprint.studies.warm_start " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    write(document, args.json, args.figure, f"digits: BSConv variants of a trained digits_cnn, {args.seeds} seeds")
    print(table(document["summary"], args.epochs))
    print(f"wrote {args.json} and {args.figure} ({document['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
