"""``blueprint bench backends``: a whole-model training step on the accel backend against the torch backend.

For each model one instance, one batch of random data of the model's input size and one SGD optimizer
are built; then training steps (``blueprint.benchmarks.training.train_step``: forward, cross-entropy plus
the orthonormal loss, backward, SGD) run alternately under ``use_backend("torch")`` and
``use_backend("accel")``, ``rounds`` times after ``warmup`` untimed steps of each, in the shared
alternation of ``blueprint.benchmarks.timing`` (order rotated, each timed step after an untimed one). Alternating
in one process puts both sides under the same machine state (other work, clock, caches), which drifts
between processes. The figure per model is ``median torch step / median accel step`` (above 1: accel
is faster); the spread is the range of the per-round ratios (torch step over the accel step of the same
round). Every thread count runs the whole table with ``torch.set_num_threads`` (which the accel backend
follows), in each memory layout asked for: both sides get the batch NCHW (``"nchw"``, the default of a PyTorch
model), or channels-last (``"channels-last"``: ``blueprint train --channels-last``), which PyTorch's CPU
convolutions run faster here and on which the accel backend's layers change no layout (``blueprint.backend``). The geometric mean over the models is the issue's target figure. Each side's GFLOP/s is a step's
FLOPs, 3 x the forward's (a backward costs about twice its forward; 2 x the multiply-adds per image of
``blueprint.profile``) x batch, over its median step time, beside the float32 GEMM peak measured at each thread
count (``blueprint.benchmarks.machine``, stored in the rows).
"""

from __future__ import annotations

import functools
import math
import statistics

import torch

import blueprint
from blueprint.backend import use_backend
from blueprint.benchmarks.machine import matmul_peak_gflops, rate
from blueprint.benchmarks.timing import alternated_ms
from blueprint.benchmarks.training import train_step
from blueprint.models import create
from blueprint.models.registry import input_size
from blueprint.regularization import OrthonormalLoss
from blueprint.tables import format_table

SIDES = ("torch", "accel")
LAYOUTS = {"nchw": torch.contiguous_format, "channels-last": torch.channels_last}  # the batch's memory format
# (model, batch size): the three BSConv-U models, one per architecture family.
MODELS = (
    ("cifar_mobilenetv1_w1d2_bsconvu", 64),
    ("cifar_resnet56_bsconvu", 64),
    ("cifar_wrn16_8_bsconvu", 16),
)


def step_flops(multiply_adds: int, batch: int) -> float:
    """FLOPs of a training step on ``batch`` images: forward (2 per multiply-add) plus a backward of twice that."""
    return 3.0 * 2.0 * multiply_adds * batch


def compare(name: str, batch_size: int, rounds: int, warmup: int, layout: str = "nchw") -> dict:
    """Median step time and GFLOP/s of each side and the accel-over-torch ratio with its spread, for one model fed
    its batch in ``layout`` (a key of ``LAYOUTS``)."""
    model = create(name, num_classes=10).train()
    flops = step_flops(blueprint.profile(model, input_size(name)).flops, batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch_size, *input_size(name)).contiguous(memory_format=LAYOUTS[layout])  # B,C,H,W
    y = torch.randint(0, 10, (batch_size,))
    penalty = OrthonormalLoss(model)

    def step(side):
        with use_backend(side):
            train_step(model, x, y, optimizer, penalty)

    times = alternated_ms({side: functools.partial(step, side) for side in SIDES}, rounds, warmup)
    ms = {side: statistics.median(t) for side, t in times.items()}
    paired = [t / a for t, a in zip(times["torch"], times["accel"])]  # the two steps of one round
    return dict(
        model=name,
        layout=layout,
        batch=batch_size,
        ms=ms,
        ratio=ms["torch"] / ms["accel"],
        spread=(min(paired), max(paired)),
        flops=flops,
        gflops={side: rate(flops, t) for side, t in ms.items()},
    )


def run(models=MODELS, threads=(2, 1), rounds: int = 8, warmup: int = 2, on_row=None, layouts=("nchw",)) -> list[dict]:
    """``compare`` for every model in every layout at every thread count (rows carry ``threads`` and the GEMM peak
    measured at it); ``on_row(row)`` as each is done."""
    rows = []
    before = torch.get_num_threads()
    try:
        for n in threads:
            torch.set_num_threads(n)
            peak = matmul_peak_gflops()
            for layout in layouts:
                for name, batch in models:
                    row = dict(threads=n, matmul_peak_gflops=peak, **compare(name, batch, rounds, warmup, layout))
                    rows.append(row)
                    if on_row:
                        on_row(row)
    finally:
        torch.set_num_threads(before)
    return rows


def geomean(values) -> float:
    values = list(values)
    return math.exp(sum(map(math.log, values)) / len(values))


def format_rows(rows: list[dict]) -> str:
    """The table, then one line per thread count and layout: the geometric mean and the minimum of the ratios, and
    the GEMM peak that the GF/s columns compare with."""
    table = format_table(
        [
            "threads",
            "layout",
            "model",
            "batch",
            "torch ms",
            "accel ms",
            "accel/torch",
            "spread",
            "torch GF/s",
            "accel GF/s",
        ],
        [
            [
                str(r["threads"]),
                r["layout"],
                r["model"],
                str(r["batch"]),
                f"{r['ms']['torch']:.1f}",
                f"{r['ms']['accel']:.1f}",
                f"{r['ratio']:.2f}x",
                f"{r['spread'][0]:.2f}-{r['spread'][1]:.2f}",
                f"{r['gflops']['torch']:.1f}",
                f"{r['gflops']['accel']:.1f}",
            ]
            for r in rows
        ],
        align="<<<>>>>>>>",
    )
    lines = [table, ""]
    for n, layout in dict.fromkeys((r["threads"], r["layout"]) for r in rows):
        here = [r for r in rows if (r["threads"], r["layout"]) == (n, layout)]
        ratios = [r["ratio"] for r in here]
        lines.append(
            f"{n} threads, {layout}: geometric mean {geomean(ratios):.2f}x, minimum {min(ratios):.2f}x; measured "
            f"float32 matrix-multiply peak {here[0]['matmul_peak_gflops']:.1f} GFLOP/s"
        )
    return "\n".join(lines)
