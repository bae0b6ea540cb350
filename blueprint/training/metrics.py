"""What a run reports: ``metrics.csv`` (one row per epoch), a PNG of the curves, and a progress line.

The rows live in the checkpoint (``history``) and the CSV is rewritten from them atomically every epoch, so the
CSV always matches ``last.pt``, also after a crash and a resume.
"""
from __future__ import annotations

import csv
import os
import sys
import time
from typing import Callable

COLUMNS = ("epoch", "lr", "train_loss", "ortho_loss", "train_acc", "test_loss", "test_acc", "images_per_s", "seconds")


def write_csv(history: list[dict], path: str) -> None:
    """``history`` (dicts with ``COLUMNS``) as CSV at ``path``, via a temporary file and ``os.replace``."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in history:
            writer.writerow({k: (f"{row[k]:.6g}" if isinstance(row[k], float) else row[k]) for k in COLUMNS})
    os.replace(tmp, path)


def read_csv(path: str) -> list[dict]:
    """The rows of a ``metrics.csv`` with numbers as floats (``epoch`` as int)."""
    with open(path, newline="") as f:
        return [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_curves(runs: dict[str, list[dict]], path: str, title: str = "") -> None:
    """Loss and accuracy against the epoch for one or more runs (``{label: history}``), saved as PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.8))
    loss_ax, acc_ax = fig.subplots(1, 2)
    for i, (label, history) in enumerate(runs.items()):
        color = f"C{i}"
        epochs = [r["epoch"] for r in history]
        loss_ax.plot(epochs, [r["train_loss"] for r in history], color=color, ls="--", label=f"{label} train")
        loss_ax.plot(epochs, [r["test_loss"] for r in history], color=color, label=f"{label} test")
        acc_ax.plot(epochs, [100 * r["train_acc"] for r in history], color=color, ls="--", label=f"{label} train")
        acc_ax.plot(epochs, [100 * r["test_acc"] for r in history], color=color, label=f"{label} test")
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy", yscale="log", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


class Progress:
    """A one-line progress bar on stderr, redrawn in place; silent unless stderr is a terminal."""

    def __init__(self, total: int, prefix: str, enabled: bool = True):
        self.total, self.prefix = total, prefix
        self.enabled = enabled and sys.stderr.isatty()
        self.last_draw = 0.0

    def update(self, done: int, text: Callable[[], str]) -> None:
        """Redraw with ``done`` of ``total`` steps and ``text()``, called only to draw (at most 5 times a second)."""
        now = time.perf_counter()
        if not self.enabled or (now - self.last_draw < 0.2 and done < self.total):
            return
        self.last_draw = now
        filled = int(20 * done / max(self.total, 1))
        sys.stderr.write(f"\r{self.prefix} [{'#' * filled}{'.' * (20 - filled)}] {done}/{self.total} {text()}\033[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
