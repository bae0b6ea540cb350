"""``blueprint bench roofline``: ops and models against the machine's limits, from earlier runs' JSON
(``blueprint.benchmarks.roofline``)."""

from __future__ import annotations

from blueprint.commands.bench.arguments import earlier_runs


def run(args) -> int:
    paths = earlier_runs(args)
    from blueprint.benchmarks import roofline

    points, peak, bandwidth = roofline.read(paths)
    roofline.plot(points, peak, bandwidth, args.png)
    print(
        f"wrote {args.png}: {len(points)} points under a GEMM peak of {peak:.1f} GFLOP/s and a copy bandwidth "
        f"of {bandwidth:.1f} GB/s"
    )
    return 0


def add(modes) -> None:
    p = modes.add_parser(
        "roofline",
        help="a roofline figure of the ops of bench layers and the models of bench latency, from their --json",
        description="Draw, measuring nothing, one log-log roofline PNG from the --json files of earlier "
        "`blueprint bench layers` and `blueprint bench latency` runs: each op (per shape, pass and backend) and "
        "each model (per batch and runtime) at its arithmetic intensity (FLOPs over the fewest bytes it moves: "
        "inputs, weights and outputs once, float32) and achieved GFLOP/s, under the measured memory-copy bandwidth "
        "and float32 GEMM peak stored in those files.",
    )
    p.add_argument(
        "--from-json",
        metavar="FILES",
        required=True,
        help="comma-separated --json files of bench layers and/or bench latency (latency runs split by "
        "pairs are read together)",
    )
    p.add_argument("--png", metavar="FILE", required=True, help="the figure to write")
    p.set_defaults(func=run, fields={"paths": "--from-json"})
