"""``blueprint bench MODE``: every benchmark of blueprint, one mode each (the code is in ``blueprint.benchmarks``).

- ``layers``: the NumPy reference, accel (Numba) and PyTorch on MobileNet-shaped BSConv-U, BSConv-S and DSC
  layers (``blueprint.benchmarks.layers``);
- ``training``: training throughput of baseline/BSConv model pairs (``blueprint.benchmarks.training``);
- ``latency``: inference latency of baseline/BSConv model pairs on five runtimes (``blueprint.benchmarks.latency``).
- ``loader``: images/s per worker of the ImageFolder pipeline for each recipe (``blueprint.benchmarks.loader``).
- ``backends``: a whole-model training step on the accel backend against the torch backend
  (``blueprint.benchmarks.backends``).
- ``roofline``: the ops of ``layers`` and the models of ``latency`` against the machine's GEMM peak and copy
  bandwidth, drawn from their JSON (``blueprint.benchmarks.roofline``).

Arguments are checked before anything is measured, so a mistake costs no benchmark run; the benchmark
modules (torch, Numba) are imported only when a mode runs.
"""

from __future__ import annotations

from blueprint.commands.bench import backends, latency, layers, loader, roofline, training

MODES = (layers, training, backends, latency, loader, roofline)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmarks: layers, training throughput, accel vs torch backend, inference latency, image loading, "
        "roofline",
        description=__doc__.split("\n\n")[0] + " Run `blueprint bench MODE --help` for each mode.",
    )
    modes = p.add_subparsers(dest="mode", metavar="MODE")
    modes.required = True
    for mode in MODES:
        mode.add(modes)
