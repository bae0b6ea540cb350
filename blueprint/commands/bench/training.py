"""``blueprint bench training``: training throughput of baseline/BSConv model pairs (``blueprint.benchmarks.training``)."""

from __future__ import annotations

import sys

from blueprint.commands.bench.arguments import known_models, pairs, pairs_text, positive
from blueprint.menus import LAYER_BACKENDS, TRAINING_PAIRS


def run(args) -> int:
    chosen = pairs(args.pairs)
    positive("--batch-size", args.batch_size)
    positive("--steps", args.steps)
    positive("--warmup", args.warmup, minimum=0)
    positive("--threads", args.threads, minimum=0)
    if args.compile and args.backend == "accel":
        raise ValueError("--compile: torch.compile cannot trace accel's Numba kernels; use --backend torch with it")
    known_models(chosen)
    import torch

    from blueprint.benchmarks import training as bench
    from blueprint.training.devices import resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device)  # a GPU is made current: its kernels and synchronize() are this device's
    print(
        f"training throughput on {device} ({torch.get_num_threads()} CPU threads), batch {args.batch_size}, "
        f"amp={args.amp}, channels_last={args.channels_last}, compile={args.compile}, backend {args.backend}, "
        f"torch {torch.__version__}",
        flush=True,
    )
    rows = bench.run(
        chosen,
        device,
        args.batch_size,
        args.steps,
        args.warmup,
        args.backend,
        args.amp,
        args.channels_last,
        args.compile,
        on_row=lambda r: print(
            f"  measured {r['model']}: {r['images_per_s']:,.0f} images/s", file=sys.stderr, flush=True
        ),
    )
    print(bench.format_rows(rows))
    return 0


def add(modes) -> None:
    p = modes.add_parser(
        "training",
        help="training throughput (images/s) of baseline/BSConv model pairs",
        description="Training throughput of baselines against their BSConv variants: one training step of "
        "`blueprint train` (autocast, cross-entropy plus orthonormal loss, backward, SGD) on random data of each "
        "model's input size; images/s is the batch size over the median step time.",
    )
    p.add_argument(
        "--pairs",
        default=pairs_text(TRAINING_PAIRS),
        help="comma-separated BASELINE:BSCONV pairs (default: %(default)s)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--threads", type=int, default=0, help="CPU threads of PyTorch (0: its default)")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument(
        "--backend",
        default="torch",
        choices=LAYER_BACKENDS,
        help="what runs the BSConv layers on the CPU (see blueprint.use_backend)",
    )
    p.set_defaults(func=run)
