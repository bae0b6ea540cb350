"""``blueprint bench MODE``: every benchmark of blueprint, one mode each (the code is in ``blueprint.benchmarks``).

- ``layers``: the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S and DSC
  layers (``blueprint.benchmarks.layers``);
- ``training``: training throughput of baseline/BSConv model pairs (``blueprint.benchmarks.training``);
- ``latency``: inference latency of baseline/BSConv model pairs on five runtimes (``blueprint.benchmarks.latency``).
- ``loader``: images/s per worker of the ImageFolder pipeline for each recipe (``blueprint.benchmarks.loader``).
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
LAYER_OPS = ("bsconv_u", "bsconv_s", "dsc", "depthwise")


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
                       with_memory=not args.no_memory, copy_mib=8 if args.quick else 256)  # fmt: skip
    print(bench.format_report(report))
    if args.json:
        bench.write_json(report, args.json)
    return 0


def add_layers(modes) -> None:
    p = modes.add_parser(
        "layers",
        help="reference, accel and PyTorch on MobileNet-shaped BSConv/DSC layers",
        description="Time the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S "
        "and DSC layers and the depthwise step alone: forward and forward+backward, float32, the backends alternated, "
        "median milliseconds with their spread, ratios to PyTorch, GFLOP/s against the matmul peak and, for the "
        "depthwise step, GB/s against the memory-copy bandwidth. "
        "The header names NumPy's BLAS kernel. Where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE "
        "(a workaround for old OpenBLAS builds that selects a slower kernel on newer CPUs), unset both for the "
        f"benchmark run only: `{BENCH_ENV} blueprint bench layers --threads 2 --repeats 30`.",
    )
    p.add_argument("--backends", default=",".join(LAYER_BACKENDS), help="comma-separated, default %(default)s")
    p.add_argument("--ops", default=",".join(LAYER_OPS), help="comma-separated, default %(default)s")
    p.add_argument("--quick", action="store_true", help="two small shapes (a smoke run) instead of the five")
    p.add_argument("--threads", type=int, default=None, help="threads for PyTorch, Numba and BLAS (default: PyTorch's)")
    p.add_argument("--repeats", type=int, default=10, help="alternated rounds per measurement (the median is reported)")
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
    if args.compile and args.backend == "accel":
        raise ValueError("--compile: torch.compile cannot trace accel's Numba kernels; use --backend torch with it")
    from blueprint.models import list_models
    from blueprint.names import unknown_name_error

    known = set(list_models())
    for name in (n for p in chosen for n in p):
        if name not in known:
            raise ValueError(unknown_name_error("--pairs", name, known))
    import torch

    from blueprint.benchmarks import training as bench
    from blueprint.training.devices import resolve

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve(args.device)  # a GPU is made current: its kernels and synchronize() are this device's
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
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: %(default)s)")
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


# The latency mode's runtimes, pairs and batches, repeated from blueprint.benchmarks.latency so that parsing needs no torch.
LATENCY_RUNTIMES = ("eager", "fused", "compile", "onnxruntime", "accel")
LATENCY_PAIRS = ("cifar_mobilenetv1_w1:cifar_mobilenetv1_w1_bsconvu,cifar_mobilenetv2_w1:cifar_mobilenetv2_w1_bsconvs_p1d6,"
                 "cifar_mobilenetv3_large_w1:cifar_mobilenetv3_large_w1_bsconvs_p1d6,"
                 "cifar_resnet20:cifar_resnet110_bsconvu,cifar_wrn40_3:cifar_wrn40_8_bsconvu,"
                 "mobilenetv1_w1:mobilenetv1_w1_bsconvu")  # fmt: skip
LATENCY_QUICK_PAIRS = "digits_cnn:digits_cnn_bsconvs_p1d4"


def batch_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise ValueError(f"--batches: expected comma-separated ints >= 1, got {text!r}")
    return sizes


def latency(args) -> int:
    if args.from_json:
        return latency_report(args)
    chosen_pairs = pairs(args.pairs or (LATENCY_QUICK_PAIRS if args.quick else LATENCY_PAIRS))
    chosen = names(LATENCY_RUNTIMES, "--runtimes")(args.runtimes)
    batches = batch_sizes(args.batches or ("1" if args.quick else "1,32"))
    repeats = 1 if args.quick and args.repeats is None else positive("--repeats", args.repeats) or 10
    positive("--warmup", args.warmup, minimum=0)
    positive("--threads", args.threads, minimum=0)
    writable_file("--json", args.json)
    writable_file("--png", args.png)
    from blueprint.models import list_models
    from blueprint.names import unknown_name_error

    known = set(list_models())
    for name in (n for p in chosen_pairs for n in p):
        if name not in known:
            raise ValueError(unknown_name_error("--pairs", name, known))
    from blueprint.benchmarks import latency as bench

    rows = []

    def keep(row):
        rows.append(row)
        eager = next(iter(row["runtimes"].values()))
        print(f"  measured {row['model']} batch {row['batch']}: {eager['ms']:.2f} ms on {next(iter(row['runtimes']))}",
              file=sys.stderr, flush=True)  # fmt: skip
        if args.json:
            bench.write_json(rows, args.json)

    try:
        bench.run(chosen_pairs, chosen, batches, repeats, args.warmup, args.threads, on_row=keep)
    finally:  # what was measured before an interruption or a failure is still reported
        if rows:
            print(bench.format_report(rows))
            if args.png:
                bench.plot(rows, args.png)
                print(f"wrote {args.png}")
    return 0


def latency_report(args) -> int:
    """--from-json: the table and the figure of earlier runs (split by pairs), nothing measured."""
    paths = [p for p in args.from_json.split(",") if p]
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--from-json: no file {path!r}")
    writable_file("--png", args.png)
    from blueprint.benchmarks import latency as bench

    rows = bench.read_json(paths)
    print(bench.format_report(rows))
    if args.png:
        bench.plot(rows, args.png)
        print(f"wrote {args.png}")
    return 0


def add_latency(modes) -> None:
    p = modes.add_parser(
        "latency",
        help="inference latency of baseline/BSConv model pairs: eager, fused, torch.compile, onnxruntime, accel",
        description="Inference latency (eval mode, float32) of baselines against their BSConv variants at batch 1 "
        "and 32 on PyTorch eager, eager after blueprint.fuse, torch.compile, onnxruntime and the accel backend, "
        "the same thread count for each, the runtimes alternated round by round; median ms, spread, images/s, "
        "parameters and multiply-adds, and the speed-up of each BSConv model over its baseline. "
        f"Benchmark with `{BENCH_ENV} blueprint bench latency --threads 2 --png latency.png`.",
    )
    p.add_argument("--pairs", help=f"comma-separated BASELINE:BSCONV pairs (default: {LATENCY_PAIRS})")
    p.add_argument("--runtimes", default=",".join(LATENCY_RUNTIMES), help="comma-separated, default %(default)s")
    p.add_argument("--batches", help="comma-separated batch sizes (default: 1,32)")
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run: {LATENCY_QUICK_PAIRS}, batch 1, one round")  # fmt: skip
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default: 10; 1 with --quick)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default: %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="threads for every runtime (0: PyTorch's default)")
    p.add_argument("--json", metavar="FILE", help="also write every row as JSON (rewritten as each row is done)")
    p.add_argument("--png", metavar="FILE", help="also draw latency against multiply-adds per runtime")
    p.add_argument("--from-json", metavar="FILES",
                   help="measure nothing: report (and --png) the comma-separated --json files of earlier runs")  # fmt: skip
    p.set_defaults(func=latency)


LOADER_RECIPES = ("imagenet", "finegrained")  # blueprint.benchmarks.loader.RECIPES, here so that parsing needs no torch


def size_pair(text: str) -> tuple[int, int]:
    try:
        w, h = (int(t) for t in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size: expected WIDTHxHEIGHT such as 500x375, got {text!r}") from None
    if w < 1 or h < 1:
        raise ValueError(f"--size: expected positive sides, got {text!r}")
    return w, h


def loader(args) -> int:
    chosen = names(LOADER_RECIPES, "--recipes")(args.recipes)
    size = size_pair(args.size)
    positive("--images", args.images)
    positive("--rounds", args.rounds)
    if args.data_dir is not None and not os.path.isdir(os.path.join(args.data_dir, "train")):
        raise ValueError(f"--data-dir: no folder {os.path.join(args.data_dir, 'train')} (expected train/ and val/)")
    if args.quick:
        size, images, rounds = (96, 72), 4, 1
    else:
        images, rounds = args.images, args.rounds
    from blueprint.benchmarks import loader as bench

    source = args.data_dir or f"{images} synthetic {size[0]}x{size[1]} JPEGs per split"
    print(f"ImageFolder loading, one worker (this process): {source}, median of {rounds} pass(es)", flush=True)
    rows = bench.run(args.data_dir, chosen, images, size, rounds)
    print(bench.format_rows(rows))
    return 0


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


def add_loader(modes) -> None:
    p = modes.add_parser(
        "loader",
        help="images/s per data-loading worker of the ImageFolder pipeline, for each recipe",
        description="Decode and augment ImageFolder images as one loader worker does, for the training transform of "
        "each recipe (imagenet: random-resized crops, flips, color jitter; finegrained: resize, random crops, flips, "
        "random gamma) and the evaluation transform; prints images/s per worker and that times the default number "
        "of workers. Without --data-dir, synthetic JPEGs of --size are written to a temporary folder.",
    )
    p.add_argument("--recipes", default=",".join(LOADER_RECIPES), help="comma-separated, default %(default)s")
    p.add_argument("--data-dir", help="an ImageFolder tree (train/, val/) to read instead of synthetic JPEGs")
    p.add_argument("--images", type=int, default=64, help="images per split (default: %(default)s)")
    p.add_argument("--size", default="500x375", help="synthetic images' WIDTHxHEIGHT (default: %(default)s, "
                   "ImageNet's most common size)")  # fmt: skip
    p.add_argument("--rounds", type=int, default=3, help="passes over the images; the median is reported")
    p.add_argument("--quick", action="store_true", help="four small images, one pass (a smoke run)")
    p.set_defaults(func=loader)



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


MODES = (add_layers, add_training, add_backends, add_latency, add_loader)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmarks: layers, training throughput, accel vs torch backend, inference latency, image loading",
        description=__doc__.split("\n\n")[0] + " Run `blueprint bench MODE --help` for each mode.",
    )
    modes = p.add_subparsers(dest="mode", metavar="MODE")
    modes.required = True
    for add in MODES:
        add(modes)
