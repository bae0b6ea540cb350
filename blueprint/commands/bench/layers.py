"""``blueprint bench layers``: the reference, accel and PyTorch on MobileNet-shaped layers (``blueprint.benchmarks.layers``)."""

from __future__ import annotations

from blueprint.commands.bench.arguments import BENCH_ENV, names, positive
from blueprint.menus import TIMED_BACKEND_HELP, TIMED_BACKENDS, TIMED_OPS
from blueprint.paths import writable_file


def run(args) -> int:
    backends = names(TIMED_BACKENDS, "--backends")(args.backends)
    ops = names(TIMED_OPS, "--ops")(args.ops)
    positive("--threads", args.threads)
    positive("--repeats", args.repeats)
    writable_file(args.json, "--json")
    from blueprint.benchmarks import layers as bench
    from blueprint.benchmarks.ops import QUICK_SHAPES, SHAPES

    report = bench.run(
        backends=backends,
        ops=ops,
        shapes=QUICK_SHAPES if args.quick else SHAPES,
        threads=args.threads,
        repeats=args.repeats,
        with_compile=not args.no_compile,
        with_memory=not args.no_memory,
        copy_mib=8 if args.quick else 256,
    )
    print(bench.format_report(report))
    if args.json:
        bench.write_json(report, args.json)
    return 0


def add(modes) -> None:
    p = modes.add_parser(
        "layers",
        help="reference, accel (backend and direct) and PyTorch on MobileNet-shaped BSConv/DSC layers",
        description="Time the NumPy reference, accel (Numba; as blueprint's accel backend runs it and as a user "
        "calls it) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S "
        "and DSC layers and the depthwise step alone: forward and forward+backward, float32, the backends alternated, "
        "median milliseconds with their spread, ratios to PyTorch, GFLOP/s against the matmul peak and, for the "
        "depthwise step, GB/s against the memory-copy bandwidth. "
        "The header names NumPy's BLAS kernel. Where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE "
        "(a workaround for old OpenBLAS builds that selects a slower kernel on newer CPUs), unset both for the "
        f"benchmark run only: `{BENCH_ENV} blueprint bench layers --threads 2 --repeats 30`.",
    )
    p.add_argument(
        "--backends",
        default=",".join(TIMED_BACKENDS),
        help="comma-separated, default %(default)s; "
        + "; ".join(f"{name}: {text}" for name, text in TIMED_BACKEND_HELP.items()),
    )
    p.add_argument("--ops", default=",".join(TIMED_OPS), help="comma-separated, default %(default)s")
    p.add_argument(
        "--quick",
        action="store_true",
        help="two small shapes and an 8 MiB copy for the bandwidth (a smoke run) instead of the five",
    )
    p.add_argument("--threads", type=int, default=None, help="threads for PyTorch, Numba and BLAS (default: PyTorch's)")
    p.add_argument("--repeats", type=int, default=10, help="alternated rounds per measurement (the median is reported)")
    p.add_argument("--no-compile", action="store_true", help="skip accel's cold/warm-cache compile-time probe")
    p.add_argument("--no-memory", action="store_true", help="skip the BSConv-U peak-memory comparison")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.set_defaults(func=run)
