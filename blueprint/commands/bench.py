"""``blueprint bench``: time the reference, accel and PyTorch side by side (see ``blueprint.bench``)."""
from __future__ import annotations

from blueprint import bench
from blueprint.benchmarks.ops import BACKENDS, OPS, QUICK_SHAPES, SHAPES


def _names(allowed, what):
    def parse(text):
        names = tuple(t.strip() for t in text.split(",") if t.strip())
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise ValueError(f"--{what}: expected a comma-separated subset of {','.join(allowed)}, got {text!r}")
        return names

    return parse


def main(args) -> int:
    backends = _names(BACKENDS, "backends")(args.backends)
    ops = _names(OPS, "ops")(args.ops)
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads: expected an int >= 1, got {args.threads}")
    if args.repeats < 1:
        raise ValueError(f"--repeats: expected an int >= 1, got {args.repeats}")
    report = bench.run(
        backends=backends,
        ops=ops,
        shapes=QUICK_SHAPES if args.quick else SHAPES,
        threads=args.threads,
        repeats=args.repeats,
        with_compile=not args.no_compile,
        with_memory=not args.no_memory,
    )
    print(bench.format_report(report))
    if args.json:
        bench.write_json(report, args.json)
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time reference, accel and PyTorch on MobileNet-shaped BSConv/DSC layers",
        description="Time the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S "
        "and DSC layers: forward and forward+backward, float32, milliseconds, ratios to PyTorch and GFLOP/s. "
        "The header names NumPy's BLAS kernel. Where the environment sets OPENBLAS_CORETYPE or OPENBLAS_L2_SIZE "
        "(a workaround for old OpenBLAS builds that selects a slower kernel on newer CPUs), unset both for the "
        "benchmark run only, so that every backend gets the CPU's best kernel: "
        "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE blueprint bench --threads 2 --repeats 30`.",
    )
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, default %(default)s")
    p.add_argument("--ops", default=",".join(OPS), help="comma-separated, default %(default)s")
    p.add_argument("--quick", action="store_true", help="two small shapes (a smoke run), instead of the issue's five")
    p.add_argument("--threads", type=int, default=None, help="threads for PyTorch, Numba and BLAS (default: PyTorch's)")
    p.add_argument("--repeats", type=int, default=10, help="timed calls per measurement (best is reported)")
    p.add_argument("--no-compile", action="store_true", help="skip accel's cold/warm-cache compile-time probe")
    p.add_argument("--no-memory", action="store_true", help="skip the BSConv-U peak-memory comparison")
    p.add_argument("--json", metavar="FILE", help="also write the full report as JSON")
    p.set_defaults(func=main)
