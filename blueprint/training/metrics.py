"""What a run reports: ``metrics.csv`` (one row per epoch) and a PNG of the curves.

The rows live in the checkpoint (``history``) and the CSV is rewritten from them atomically every epoch, so the
CSV always matches ``last.pt``, also after a crash and a resume.
"""

from __future__ import annotations

import csv
import io

from blueprint import plotting
from blueprint.paths import atomic_text

COLUMNS = ("epoch", "lr", "train_loss", "ortho_loss", "train_acc", "test_loss", "test_acc", "images_per_s", "seconds")


def write_csv(history: list[dict], path: str) -> None:
    """``history`` (dicts with ``COLUMNS``) as CSV at ``path``, written atomically (``blueprint.paths.atomic_text``)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in COLUMNS})
    atomic_text(path, text.getvalue())


def plot_curves(runs: dict[str, list[dict]], path: str, title: str = ""):
    """Loss and accuracy against the epoch for one or more runs (``{label: history}``), saved as PNG; returns
    the ``matplotlib.figure.Figure``. Epochs are ticked at whole numbers and the log-scale loss axis in plain
    numbers (0.5, 2), also when a short run spans less than a decade."""
    from matplotlib.ticker import FuncFormatter, LogFormatter, MaxNLocator

    fig = plotting.figure(6.4)
    loss_ax, acc_ax = fig.subplots(2, 1, sharex=True)
    for i, (label, history) in enumerate(runs.items()):
        color = f"C{i}"
        epochs = [r["epoch"] for r in history]
        loss_ax.plot(epochs, [r["train_loss"] for r in history], color=color, ls="--", label=f"{label} train")
        loss_ax.plot(epochs, [r["test_loss"] for r in history], color=color, label=f"{label} test")
        acc_ax.plot(epochs, [100 * r["train_acc"] for r in history], color=color, ls="--", label=f"{label} train")
        acc_ax.plot(epochs, [100 * r["test_acc"] for r in history], color=color, label=f"{label} test")
    loss_ax.set(ylabel="cross-entropy", yscale="log", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    loss_ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    loss_ax.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    plotting.save(fig, path)
    return fig
