"""Training throughput (images/s) of baselines against their BSConv variants: a benchmark, not a test.

    python -m blueprint.training.throughput                      # CPU, the default pairs, small batches
    python -m blueprint.training.throughput --backend accel      # the BSConv layers on accel's Numba kernels
    python -m blueprint.training.throughput --device cuda --amp --channels-last --batch-size 256

Each step is one training step of ``blueprint train`` (forward under autocast, cross-entropy plus the
orthonormal loss, backward, SGD) on random data of the model's input size; the figure is the batch size over
the median step time after ``--warmup`` untimed steps. Input sizes: 1x8x8 for ``digits_*``, 3x32x32 for
``cifar_*``, else 3x224x224.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from blueprint.backend import BACKENDS, use_backend
from blueprint.models import create
from blueprint.profiling import profile
from blueprint.regularization import orthonormal_loss
from blueprint.training.loop import autocast

# baseline -> its BSConv counterpart (Table 1 / Table 2 pairs, and the demo's)
PAIRS = (
    ("digits_cnn", "digits_cnn_bsconvu"),
    ("cifar_resnet20", "cifar_resnet110_bsconvu"),
    ("cifar_mobilenetv1_w1d2", "cifar_mobilenetv1_w1d2_bsconvu"),
    ("cifar_mobilenetv2_w1d2", "cifar_mobilenetv2_w1d2_bsconvs_p1d6"),
)


def input_size(name: str) -> tuple[int, int, int]:
    if name.startswith("digits_"):
        return (1, 8, 8)
    return (3, 32, 32) if name.startswith("cifar_") else (3, 224, 224)


def measure(name: str, device: torch.device, batch_size: int, steps: int, warmup: int, amp: bool = False,
            channels_last: bool = False, compile: bool = False, alpha: float = 0.01) -> dict:  # fmt: skip
    """Parameters, multiply-adds per image, median step time and images/s of training ``name``."""
    size = input_size(name)
    model = create(name, num_classes=10)
    cost = profile(model, size)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=memory_format).train()
    net = torch.compile(model) if compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    x = torch.randn(batch_size, *size, device=device).contiguous(memory_format=memory_format)  # B,C,H,W
    y = torch.randint(0, 10, (batch_size,), device=device)
    times = []
    for step in range(warmup + steps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        began = time.perf_counter()
        with autocast(device, amp):
            loss = F.cross_entropy(net(x).float(), y)
        loss = loss + alpha * orthonormal_loss(model)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            times.append(time.perf_counter() - began)
    seconds = statistics.median(times)
    return dict(model=name, params=cost.params, flops=cost.flops, ms=1e3 * seconds, images_per_s=batch_size / seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blueprint.training.throughput",
                                     description=__doc__.split("\n\n")[0])  # fmt: skip
    parser.add_argument("--pairs", default=",".join(f"{a}:{b}" for a, b in PAIRS),
                        help="comma-separated BASELINE:BSCONV pairs (default: %(default)s)")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of PyTorch (0: its default)")
    parser.add_argument("--amp", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--backend", default="torch", choices=BACKENDS,
                        help="what runs the BSConv layers on the CPU (see blueprint.use_backend)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",") if p]
    if any(len(p) != 2 for p in pairs):
        parser.error(f"--pairs: expected BASELINE:BSCONV items, got {args.pairs!r}")
    print(f"training throughput on {device} ({torch.get_num_threads()} CPU threads), batch {args.batch_size}, "
          f"amp={args.amp}, channels_last={args.channels_last}, compile={args.compile}, backend {args.backend}, "
          f"torch {torch.__version__}")  # fmt: skip
    header = f"{'model':<38} {'params':>10} {'MFLOPs':>9} {'ms/step':>9} {'images/s':>10} {'vs baseline':>11}"
    print(header + "\n" + "-" * len(header))
    for baseline, variant in pairs:
        base = None
        for name in (baseline, variant):
            with use_backend(args.backend):
                r = measure(name, device, args.batch_size, args.steps, args.warmup, args.amp, args.channels_last,
                            args.compile)  # fmt: skip
            base = base or r
            print(f"{name:<38} {r['params']:>10,} {r['flops'] / 1e6:>9.2f} {r['ms']:>9.1f} {r['images_per_s']:>10,.0f} "
                  f"{r['images_per_s'] / base['images_per_s']:>10.2f}x", flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
