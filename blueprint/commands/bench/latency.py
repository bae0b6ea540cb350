"""``blueprint bench latency``: inference latency of baseline/BSConv pairs on five runtimes (``blueprint.benchmarks.latency``)."""

from __future__ import annotations

import sys

from blueprint.commands.bench.arguments import (
    BENCH_ENV,
    earlier_runs,
    known_models,
    names,
    pairs,
    pairs_text,
    positive,
    positive_ints,
)
from blueprint.menus import LATENCY_PAIRS, LATENCY_QUICK_PAIRS, LATENCY_RUNTIMES
from blueprint.paths import writable_file

PAIRS, QUICK_PAIRS = pairs_text(LATENCY_PAIRS), pairs_text(LATENCY_QUICK_PAIRS)  # as --pairs takes them


def run(args) -> int:
    if args.from_json:
        return report(args)
    chosen_pairs = pairs(args.pairs or (QUICK_PAIRS if args.quick else PAIRS))
    chosen = names(LATENCY_RUNTIMES, "--runtimes")(args.runtimes)
    batches = positive_ints(args.batches or ("1" if args.quick else "1,32"), "--batches")
    repeats = 1 if args.quick and args.repeats is None else positive("--repeats", args.repeats) or 10
    positive("--warmup", args.warmup, minimum=0)
    positive("--threads", args.threads, minimum=0)
    writable_file(args.json, "--json")
    writable_file(args.png, "--png")
    known_models(chosen_pairs)
    from blueprint.benchmarks import latency as bench

    rows = []

    def keep(row):
        rows.append(row)
        eager = next(iter(row["runtimes"].values()))
        print(
            f"  measured {row['model']} batch {row['batch']}: {eager['ms']:.2f} ms on {next(iter(row['runtimes']))}",
            file=sys.stderr,
            flush=True,
        )
        if args.json:
            bench.write_json(rows, args.json)

    try:
        bench.run(
            chosen_pairs,
            chosen,
            batches,
            repeats,
            args.warmup,
            args.threads,
            on_row=keep,
            copy_mib=8 if args.quick else 256,
        )
    finally:  # what was measured before an interruption or a failure is still reported
        if rows:
            _report(rows, args.png)
    return 0


def report(args) -> int:
    """--from-json: the table and the figure of earlier runs (split by pairs), nothing measured."""
    paths = earlier_runs(args)
    from blueprint.benchmarks import latency as bench

    _report(bench.read_json(paths), args.png)
    return 0


def _report(rows: list[dict], png: str | None) -> None:
    """The tables of ``rows`` and, with ``png``, the figure."""
    from blueprint.benchmarks import latency as bench

    print(bench.format_report(rows))
    if png:
        bench.plot(rows, png)
        print(f"wrote {png}")


def add(modes) -> None:
    p = modes.add_parser(
        "latency",
        help="inference latency of baseline/BSConv model pairs: eager, fused, torch.compile, onnxruntime, accel",
        description="Inference latency (eval mode, float32) of baselines against their BSConv variants at batch 1 "
        "and 32 on PyTorch eager, eager after blueprint.fuse, torch.compile, onnxruntime and the accel inference engine, "
        "the same thread count for each, both models of a pair and all runtimes alternated round by round; median "
        "ms, spread, images/s, GFLOP/s beside the measured GEMM peak and copy bandwidth, "
        "parameters and multiply-adds, and the speed-up of each BSConv model over its baseline. "
        f"Benchmark with `{BENCH_ENV} blueprint bench latency --threads 2 --png latency.png`.",
    )
    p.add_argument("--pairs", help=f"comma-separated BASELINE:BSCONV pairs (default: {PAIRS})")
    p.add_argument("--runtimes", default=",".join(LATENCY_RUNTIMES), help="comma-separated, default %(default)s")
    p.add_argument("--batches", help="comma-separated batch sizes (default: 1,32)")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke run: {QUICK_PAIRS}, batch 1, one round, an 8 MiB copy for the bandwidth",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default: 10; 1 with --quick)")
    p.add_argument("--warmup", type=int, default=2, help="untimed rounds first (default: %(default)s)")
    p.add_argument("--threads", type=int, default=0, help="threads for every runtime (0: PyTorch's default)")
    p.add_argument("--json", metavar="FILE", help="also write every row as JSON (rewritten as each row is done)")
    p.add_argument("--png", metavar="FILE", help="also draw latency against multiply-adds per runtime")
    p.add_argument(
        "--from-json",
        metavar="FILES",
        help="measure nothing: report (and --png) the comma-separated --json files of earlier runs",
    )
    p.set_defaults(func=run, fields={"paths": "--from-json"})
