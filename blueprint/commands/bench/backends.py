"""``blueprint bench backends``: a whole-model training step, accel backend against torch backend (``blueprint.benchmarks.backends``)."""

from __future__ import annotations

import sys

from blueprint.commands.bench.arguments import BENCH_ENV, names, positive, positive_ints


def run(args) -> int:
    threads = positive_ints(args.threads, "--threads")
    positive("--rounds", args.rounds)
    positive("--warmup", args.warmup, minimum=0)
    positive("--batch-scale", args.batch_scale)
    from blueprint.benchmarks import backends as bench

    layouts = names(tuple(bench.LAYOUTS), "--layouts")(args.layouts)
    models = tuple((name, max(1, batch // args.batch_scale)) for name, batch in bench.MODELS)
    if args.models:
        models = tuple(m for m in models if m[0] in names(tuple(n for n, _ in bench.MODELS), "--models")(args.models))
    print(
        f"training step, accel backend against torch backend, alternated in one process, {args.rounds} rounds "
        f"after {args.warmup} warm-up steps each; accel/torch = median torch ms / median accel ms (above 1: accel "
        "is faster); spread = range of the per-round ratios; GF/s = 3 x forward FLOPs x batch / median step, beside "
        "the float32 matrix-multiply peak measured at each thread count (last lines)",
        flush=True,
    )
    rows = bench.run(
        models,
        threads,
        args.rounds,
        args.warmup,
        on_row=lambda r: print(
            f"  measured {r['model']} at {r['threads']} threads, {r['layout']}", file=sys.stderr, flush=True
        ),
        layouts=layouts,
    )
    print(bench.format_rows(rows))
    return 0


def add(modes) -> None:
    p = modes.add_parser(
        "backends",
        help="whole-model training step: accel backend against torch backend",
        description="A training step of whole BSConv-U models (MobileNetV1 w1/2, ResNet-56, WRN-16-8) on the accel "
        "backend against the torch backend, the two alternated in one process; per model the ratio of the median "
        "step times and the range of the per-round ratios, at each thread count and input layout, with the "
        "geometric mean. "
        f"Benchmark with `{BENCH_ENV} blueprint bench backends`.",
    )
    p.add_argument("--threads", default="2,1", help="comma-separated thread counts (default %(default)s)")
    p.add_argument("--rounds", type=int, default=8, help="timed steps per side (the median is reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    p.add_argument("--models", default=None, help="comma-separated subset of the three models (default: all)")
    p.add_argument(
        "--layouts",
        default="nchw",
        help="comma-separated memory layouts of the batch, both sides alike: nchw, channels-last (default %(default)s)",
    )
    p.add_argument("--batch-scale", type=int, default=1, help="divide each model's batch size by this (smoke runs)")
    p.set_defaults(func=run)
