"""``blueprint bench MODE``: every benchmark of blueprint, one mode each (the code is in ``blueprint.benchmarks``).

- ``layers``: the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S and DSC
  layers (``blueprint.benchmarks.layers``);
- ``training``: training throughput of baseline/BSConv model pairs (``blueprint.benchmarks.training``);
- ``backends``: a whole-model training step on the accel backend against the torch backend
  (``blueprint.benchmarks.backends``).

Arguments are checked before anything is measured, so a mistake costs no benchmark run; the benchmark
modules (torch, Numba) are imported only when a mode runs.
"""
from __future__ import annotations

import os
import sys

BENCH_ENV = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"


def names(allowed, flag: str):
    """An argparse type: a comma-separated, non-empty subset of ``allowed``."""

    def parse(text):
        chosen = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [n for n in chosen if n not in allowed]
        if bad or not chosen:
            raise ValueError(f"{flag}: expected a comma-separated subset of {','.join(allowed)}, got {text!r}")
        return chosen

    return parse


def positive(flag: str, value, minimum: int = 1):
    if value is not None and value < minimum:
        raise ValueError(f"{flag}: expected an int >= {minimum}, got {value}")
    return value


def writable_file(flag: str, path: str | None) -> str | None:
    """Refuse, before the run, an output file whose folder does not exist or cannot be written."""
    if path is None:
        return None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{flag}: the folder {folder!r} of {path!r} does not exist")
    if not os.access(folder, os.W_OK) or os.path.isdir(path):
        raise ValueError(f"{flag}: cannot write {path!r}")
    return path


# The layers mode's names, repeated from blueprint.benchmarks.ops so that parsing needs no torch.
LAYER_BACKENDS = ("reference", "accel", "torch")
LAYER_OPS = ("bsconv_u", "bsconv_s", "dsc")


def layers(args) -> int:
    backends = names(LAYER_BACKENDS, "--backends")(args.backends)
    ops = names(LAYER_OPS, "--ops")(args.ops)
    positive("--threads", args.threads)
    positive("--repeats", args.repeats)
    writable_file("--json", args.json)
    from blueprint.benchmarks import layers as bench
    from blueprint.benchmarks.ops import QUICK_SHAPES, SHAPES

    report = bench.run(backends=backends, ops=ops, shapes=QUICK_SHAPES if args.quick else SHAPES,
                       threads=args.threads, repeats=args.repeats, with_compile=not args.no_compile,
                       with_memory=not args.no_memory)  # fmt: skip
    print(bench.format_report(report))
    if args.json:
        bench.write_json(report, args.json)
    return 0


def add_layers(modes) -> None:
    p = modes.add_parser(
        "layers",
        help="reference, accel and PyTorch on MobileNet-shaped BSConv/DSC layers",
        description="Time the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S "
        "and DSC layers: forward and forward+backward, float32, milliseconds, ratios to PyTorch and GFLOP/s. "
        "The header names NumPy's BLAS kernel. Where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE "
        "(a workaround for old OpenBLAS builds that selects a slower kernel on newer CPUs), unset both for the "
        f"benchmark run only: `{BENCH_ENV} blueprint bench layers --threads 2 --repeats 30`.",
    )
    p.add_argument("--backends", default=",".join(LAYER_BACKENDS), help="comma-separated, default %(default)s")
    p.add_argument("--ops", default=",".join(LAYER_OPS), help="comma-separated, default %(default)s")
    p.add_argument("--quick", action="store_true", help="two small shapes (a smoke run) instead of the five")
    p.add_argument("--threads", type=int, default=None, help="threads for PyTorch, Numba and BLAS (default: PyTorch's)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per measurement (best is reported)")
    p.add_argument("--no-compile", action="store_true", help="skip accel's cold/warm-cache compile-time probe")
    p.add_argument("--no-memory", action="store_true", help="skip the BSConv-U peak-memory comparison")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.set_defaults(func=layers)


TRAINING_BACKENDS = ("torch", "accel")


def pairs(text: str) -> list[tuple[str, str]]:
    items = [tuple(p.split(":")) for p in text.split(",") if p.strip()]
    if not items or any(len(p) != 2 or not all(p) for p in items):
        raise ValueError(f"--pairs: expected comma-separated BASELINE:BSCONV items, got {text!r}")
    return items


def training(args) -> int:
    chosen = pairs(args.pairs)
    positive("--batch-size", args.batch_size)
    positive("--steps", args.steps)
    positive("--warmup", args.warmup, minimum=0)
    positive("--threads", args.threads, minimum=0)
    from blueprint.models import list_models
    from blueprint.names import unknown_name_error

    known = set(list_models())
    for name in (n for p in chosen for n in p):
        if name not in known:
            raise ValueError(unknown_name_error("--pairs", name, known))
    import torch

    from blueprint.benchmarks import training as bench

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"training throughput on {device} ({torch.get_num_threads()} CPU threads), batch {args.batch_size}, "
          f"amp={args.amp}, channels_last={args.channels_last}, compile={args.compile}, backend {args.backend}, "
          f"torch {torch.__version__}", flush=True)  # fmt: skip
    rows = bench.run(chosen, device, args.batch_size, args.steps, args.warmup, args.backend, args.amp,
                     args.channels_last, args.compile,
                     on_row=lambda r: print(f"  measured {r['model']}: {r['images_per_s']:,.0f} images/s",
                                            file=sys.stderr, flush=True))  # fmt: skip
    print(bench.format_rows(rows))
    return 0


def add_training(modes) -> None:
    p = modes.add_parser(
        "training",
        help="training throughput (images/s) of baseline/BSConv model pairs",
        description="Training throughput of baselines against their BSConv variants: one training step of "
        "`blueprint train` (autocast, cross-entropy plus orthonormal loss, backward, SGD) on random data of each "
        "model's input size; images/s is the batch size over the median step time.",
    )
    default_pairs = ("digits_cnn:digits_cnn_bsconvu,cifar_resnet20:cifar_resnet110_bsconvu,"
                     "cifar_mobilenetv1_w1d2:cifar_mobilenetv1_w1d2_bsconvu,"
                     "cifar_mobilenetv2_w1d2:cifar_mobilenetv2_w1d2_bsconvs_p1d6")  # fmt: skip
    p.add_argument("--pairs", default=default_pairs, help="comma-separated BASELINE:BSCONV pairs (default: %(default)s)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=5, help="timed steps (the median is reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--threads", type=int, default=0, help="CPU threads of PyTorch (0: its default)")
    p.add_argument("--amp", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--backend", default="torch", choices=TRAINING_BACKENDS,
                   help="what runs the BSConv layers on the CPU (see blueprint.use_backend)")  # fmt: skip
    p.set_defaults(func=training)


def threads_list(text: str) -> tuple[int, ...]:
    """--threads: comma-separated ints >= 1."""
    try:
        chosen = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        chosen = ()
    if not chosen or min(chosen) < 1:
        raise ValueError(f"--threads: expected comma-separated ints >= 1, got {text!r}")
    return chosen


def backends(args) -> int:
    threads = threads_list(args.threads)
    positive("--rounds", args.rounds)
    positive("--warmup", args.warmup, minimum=0)
    positive("--batch-scale", args.batch_scale)
    from blueprint.benchmarks import backends as bench

    models = tuple((name, max(1, batch // args.batch_scale)) for name, batch in bench.MODELS)
    if args.models:
        models = tuple(m for m in models if m[0] in names(tuple(n for n, _ in bench.MODELS), "--models")(args.models))
    print(f"training step, accel backend against torch backend, alternated in one process, {args.rounds} rounds "
          f"after {args.warmup} warm-up steps each; accel/torch = median torch ms / median accel ms (above 1: accel "
          "is faster); spread = range of the per-round ratios", flush=True)  # fmt: skip
    rows = bench.run(models, threads, args.rounds, args.warmup,
                     on_row=lambda r: print(f"  measured {r['model']} at {r['threads']} threads", file=sys.stderr,
                                            flush=True))  # fmt: skip
    print(bench.format_rows(rows))
    return 0


def add_backends(modes) -> None:
    p = modes.add_parser(
        "backends",
        help="whole-model training step: accel backend against torch backend",
        description="A training step of whole BSConv-U models (MobileNetV1 w1/2, ResNet-56, WRN-16-8) on the accel "
        "backend against the torch backend, the two alternated in one process; per model the ratio of the median "
        "step times and the range of the per-round ratios, at each thread count, with the geometric mean. "
        f"Benchmark with `{BENCH_ENV} blueprint bench backends`.",
    )
    p.add_argument("--threads", default="2,1", help="comma-separated thread counts (default %(default)s)")
    p.add_argument("--rounds", type=int, default=8, help="timed steps per side (the median is reported)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    p.add_argument("--models", default=None, help="comma-separated subset of the three models (default: all)")
    p.add_argument("--batch-scale", type=int, default=1, help="divide each model's batch size by this (smoke runs)")
    p.set_defaults(func=backends)


MODES = (add_layers, add_training, add_backends)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmarks: layers (reference/accel/PyTorch), training throughput, accel vs torch backend",
        description=__doc__.split("\n\n")[0] + " Run `blueprint bench MODE --help` for each mode.",
    )
    modes = p.add_subparsers(dest="mode", metavar="MODE")
    modes.required = True
    for add in MODES:
        add(modes)
