"""``blueprint bench training``: training throughput (images/s) of baselines against their BSConv variants.

Each step is one training step of ``blueprint train`` (forward under autocast, cross-entropy plus the
orthonormal loss, backward, SGD) on random data of the model's input size (``blueprint.models.input_size``);
the figure is the batch size over the median step time after ``warmup`` untimed steps. ``backend`` says what
runs the BSConv layers on the CPU (``blueprint.use_backend``).
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from blueprint.backend import use_backend
from blueprint.models import create
from blueprint.models.registry import input_size
from blueprint.profiling import profile
from blueprint.regularization import OrthonormalLoss
from blueprint.tables import format_table
from blueprint.training.devices import autocast, grad_scaler, kernel_settings, sgd


def train_step(net, x, y, optimizer, penalty=None, scaler=None, amp: bool = False, alpha: float = 0.01) -> None:
    """One step of ``blueprint train``: forward of ``net`` under autocast, cross-entropy plus ``alpha`` times the
    orthonormal loss ``penalty()`` (an ``OrthonormalLoss`` of the model; skipped when it has no weights),
    backward, optimizer step (through ``scaler``)."""
    with autocast(x.device, amp):
        loss = F.cross_entropy(net(x).float(), y)
    if penalty:
        loss = loss + alpha * penalty()
    optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        optimizer.step()
        return
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


def measure(
    name: str,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    amp: bool = False,
    channels_last: bool = False,
    compile: bool = False,
    alpha: float = 0.01,
) -> dict:
    """Parameters, multiply-adds per image, median step time and images/s of training ``name``."""
    size = input_size(name)
    model = create(name, num_classes=10)
    cost = profile(model, size)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    net = torch.compile(model) if compile else model
    optimizer = sgd(model.parameters(), device, lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = grad_scaler(device, amp)
    penalty = OrthonormalLoss(model)
    x = torch.randn(batch_size, *size, device=device).contiguous(memory_format=memory_format)  # B,C,H,W
    y = torch.randint(0, 10, (batch_size,), device=device)
    times = []
    for step in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        train_step(net, x, y, optimizer, penalty, scaler, amp, alpha)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step >= warmup:
            times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    return dict(model=name, params=cost.params, flops=cost.flops, ms=1e3 * seconds, images_per_s=batch_size / seconds)


def run(
    pairs,
    device: torch.device,
    batch_size: int,
    steps: int,
    warmup: int,
    backend: str = "torch",
    amp: bool = False,
    channels_last: bool = False,
    compile: bool = False,
    on_row=None,
) -> list[dict]:
    """One ``measure`` per model of each pair, with ``vs_baseline`` (images/s over the pair's baseline's);
    ``on_row(row)`` is called as each row is done."""
    rows = []
    for baseline, variant in pairs:
        base = None
        for name in (baseline, variant):
            with use_backend(backend), kernel_settings(device, deterministic=False):  # cuDNN autotuned
                r = measure(name, device, batch_size, steps, warmup, amp, channels_last, compile)
            base = base or r
            r["vs_baseline"] = r["images_per_s"] / base["images_per_s"]
            rows.append(r)
            if on_row:
                on_row(r)
    return rows


HEADER = ("model", "params", "MFLOPs", "ms/step", "images/s", "vs baseline")


def format_row(r: dict) -> list[str]:
    return [
        r["model"],
        f"{r['params']:,}",
        f"{r['flops'] / 1e6:.2f}",
        f"{r['ms']:.1f}",
        f"{r['images_per_s']:,.0f}",
        f"{r['vs_baseline']:.2f}x",
    ]


def format_rows(rows: list[dict]) -> str:
    return format_table(HEADER, [format_row(r) for r in rows])
