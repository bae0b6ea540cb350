"""``blueprint bench layers``: the reference, accel (as the accel backend runs it and as a user calls it,
``accel-direct``) and PyTorch side by side on MobileNet-shaped layers.

For each op (BSConv-U, BSConv-S, DSC, and the depthwise step of Eq. (7) alone), shape and backend it
times the forward and forward + backward in float32 with the same thread count for PyTorch, Numba and
BLAS, the backends alternated call by call (``blueprint.benchmarks.timing``), and reports the median
milliseconds over ``repeats`` rounds with their spread, the speed relative to PyTorch (``torch ms /
backend ms``, above 1 is faster than PyTorch) and the achieved GFLOP/s next to the machine's measured
float32 matrix-multiply peak (``blueprint.benchmarks.machine``). Each row stores its FLOPs and the fewest
bytes the op can move (``ops.fewest_bytes``), for the roofline (``blueprint.benchmarks.roofline``). The depthwise step does about K^2 multiply-adds per value it reads, so
its bound is memory, not arithmetic: its rows also give GB/s (the fewest bytes the step can move, over
its time) next to the measured bandwidth of a large array copy. Freed memory stays in the process while it runs (``blueprint.benchmarks.allocator``),
so that page faults do not swamp the timings. Optionally also accel's first-call compile time (cold and warm cache) and the
peak memory of the naive full-kernel BSConv-U against the factorized one.

The vectorized reference against PyTorch alone is ``--backends reference,torch``. The reference's rows are
timed after all the others: its products run on NumPy's OpenBLAS, whose threads busy-wait for a while after
each call and would slow whatever runs next on the same cores (accel and PyTorch share one thread team).
``accel-direct`` makes no NumPy BLAS call on these ops (its products run on ``accel.gemm``). In one process
Numba has one threading layer: with ``accel`` also timed, the one the accel backend chooses (OpenMP, on
PyTorch's team, ``blueprint.accel_threads``); with ``--backends accel-direct,torch``, Numba's own default, as
in a user's process. The header names it.

The header names the BLAS that NumPy (hence the reference's products) runs on: library, kernel
('architecture', from ``threadpoolctl``) and threads. For a fair comparison that kernel must be the
one the CPU supports best. Some machines set ``OPENBLAS_CORETYPE`` (e.g. ``Haswell``) and
``OPENBLAS_L2_SIZE`` in the environment, a workaround for old OpenBLAS builds, which makes the current
OpenBLAS run a slower kernel than it would pick itself (on an AVX-512 machine: Haswell instead of
SkylakeX). Unset both, for that one command only, when benchmarking::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE blueprint bench layers --threads 2 --repeats 30

The library never changes them; the header warns when they are set.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numba
import threadpoolctl
import torch

from blueprint import accel_threads
from blueprint.benchmarks.allocator import keep_freed_memory
from blueprint.benchmarks.compile_time import compile_times
from blueprint.benchmarks.machine import copy_bandwidth_gbps, matmul_peak_gflops, rate
from blueprint.benchmarks.memory import bsconv_u_peak_memory
from blueprint.benchmarks.ops import SHAPES, Shape, fewest_bytes, forward_flops, runner
from blueprint.benchmarks.timing import alternated_ms, median_spread
from blueprint.menus import TIMED_BACKENDS, TIMED_OPS
from blueprint.progress import progress
from blueprint.tables import format_table

PASSES = ("fwd", "fwd+bwd")
FLOP_FACTOR = {"fwd": 1.0, "fwd+bwd": 3.0}  # a backward costs about twice its forward


OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_info() -> list[dict]:
    """NumPy's BLAS libraries as ``threadpoolctl`` sees them: library, version, kernel ('architecture'),
    threads, plus the OpenBLAS overrides found in the environment."""
    overrides = {k: os.environ[k] for k in OPENBLAS_OVERRIDES if k in os.environ}
    return [
        {
            "library": i.get("internal_api"),
            "version": i.get("version"),
            "architecture": i.get("architecture"),
            "threads": i.get("num_threads"),
            "env_overrides": overrides,
        }
        for i in threadpoolctl.threadpool_info()
        if i.get("user_api") == "blas"
    ]


@dataclass
class Report:
    threads: int
    backends: tuple
    matmul_peak_gflops: float
    copy_gbps: float
    copy_mib: int
    blas: list = field(default_factory=list)
    numba_layer: str = "not started"
    allocator: str = ""
    rows: list = field(default_factory=list)  # one dict per (op, shape, pass)
    compile: dict | None = None
    memory: list | None = None

    def summary(self) -> dict:
        """Geometric mean and minimum of ``torch ms / backend ms`` per (backend, op, pass)."""
        out = {}
        for backend in self.backends:
            if backend == "torch" or "torch" not in self.backends:
                continue
            for op in sorted({r["op"] for r in self.rows}):
                for p in PASSES:
                    ratios = [r["vs_torch"][backend] for r in self.rows if r["op"] == op and r["pass"] == p]
                    out[f"{backend} {op} {p}"] = {
                        "geomean": math.exp(sum(map(math.log, ratios)) / len(ratios)),
                        "min": min(ratios),
                    }
        return out

    def to_json(self) -> dict:
        return {
            "threads": self.threads,
            "backends": list(self.backends),
            "matmul_peak_gflops": self.matmul_peak_gflops,
            "copy_gbps": self.copy_gbps,
            "copy_mib": self.copy_mib,
            "blas": self.blas,
            "numba_threading_layer": self.numba_layer,
            "allocator": self.allocator,
            "rows": self.rows,
            "summary": self.summary(),
            "compile": self.compile,
            "memory": self.memory,
        }


def _row(op: str, s: Shape, p: str, times: dict) -> dict:
    """The report's row of one (op, shape, pass): its FLOPs and fewest bytes (``ops.fewest_bytes``), median ms
    and spread per backend, ratios, GFLOP/s and, for the depthwise step, GB/s."""
    ms, spread = {}, {}
    for b, t in times.items():
        ms[b], spread[b] = median_spread(t)
    flops = FLOP_FACTOR[p] * forward_flops(op, s)
    moved = fewest_bytes(op, s, with_backward=p == "fwd+bwd")
    row = {
        "op": op,
        "shape": s.label(),
        "pass": p,
        "flops": flops,
        "bytes": moved,
        "ms": ms,
        "spread": spread,
        "vs_torch": {b: ms["torch"] / ms[b] for b in ms if "torch" in ms},
        "gflops": {b: rate(flops, ms[b]) for b in ms},
    }
    if op == "depthwise":
        row["gbps"] = {b: rate(moved, ms[b]) for b in ms}
    return row


def run(
    backends=TIMED_BACKENDS,
    ops=TIMED_OPS,
    shapes: tuple[Shape, ...] = SHAPES,
    threads: int | None = None,
    repeats: int = 10,
    with_compile: bool = True,
    with_memory: bool = True,
    copy_mib: int = 256,
) -> Report:
    """Time every (op, shape, backend) and collect the report; see the module docstring."""
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    if "accel" in backends:
        accel_threads.accel()  # Numba's threading layer chosen as the accel backend chooses it, before it starts
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    allocator = keep_freed_memory()
    with threadpoolctl.threadpool_limits(threads):
        report = Report(
            threads,
            tuple(backends),
            matmul_peak_gflops(),
            copy_bandwidth_gbps(copy_mib),
            copy_mib,
            blas_info(),
            allocator=allocator,
        )
        compared = tuple(b for b in backends if b != "reference")
        samples = {}  # (op, shape, pass) -> backend -> ms of each round
        at = []  # the (op, shape) being measured
        bar = progress(
            len(ops) * len(shapes) * (1 + ("reference" in backends)), "bench layers", status=lambda: " ".join(at)
        )
        for side in (compared, ("reference",) if "reference" in backends else ()):
            for op in ops:
                for s in shapes:
                    at[:] = [op, s.label(), *side]
                    runners = {b: runner(b, op, s) for b in side}
                    for i, p in enumerate(PASSES):
                        times = alternated_ms({b: runners[b][i] for b in side}, repeats, warmup=1)
                        samples.setdefault((op, s, p), {}).update(times)
                    bar.update(1)
        bar.close()
        for (op, s, p), times in samples.items():
            report.rows.append(_row(op, s, p, {b: times[b] for b in backends}))
        if {"accel", "accel-direct"} & set(backends):
            report.numba_layer = numba.threading_layer()
        if with_memory and "accel" in backends:
            report.memory = [{"shape": s.label(), **bsconv_u_peak_memory(s)} for s in shapes]
    if with_compile and "accel" in backends:
        report.compile = compile_times()
    return report


def format_report(report: Report) -> str:
    """The tables printed by ``blueprint bench layers``."""
    b = report.backends
    compared = [name for name in b if name != "torch" and "torch" in b]
    lines = [
        f"float32, {report.threads} threads for PyTorch, Numba and BLAS; the backends alternated call by call, median "
        f"ms over the rounds ± interquartile range; shape = B,M,N,H,K,stride; x torch = torch ms / backend ms "
        f"(above 1: faster than PyTorch)",
        f"measured float32 matrix-multiply peak: {report.matmul_peak_gflops:.1f} GFLOP/s; memory-copy bandwidth "
        f"(read + write of a {report.copy_mib} MiB array): {report.copy_gbps:.1f} GB/s; the depthwise step's GB/s counts the "
        "fewest bytes it can move",
        *(
            f"NumPy BLAS: {i['library']} {i['version']}, kernel {i['architecture']}, {i['threads']} threads"
            + (
                f"; WARNING: {', '.join(f'{k}={v}' for k, v in i['env_overrides'].items())} set, which may select "
                "a slower kernel (see `blueprint bench layers --help`)"
                if i["env_overrides"]
                else ""
            )
            for i in report.blas
        ),
        f"Numba threading layer: {report.numba_layer}",
        f"allocator: {report.allocator}",
        "",
        format_table(
            [
                "op",
                "shape",
                "pass",
                *(f"{n} ms" for n in b),
                *(f"{n} x torch" for n in compared),
                *(f"{n} GF/s" for n in b),
                *(f"{n} GB/s" for n in b),
            ],
            [
                [
                    r["op"],
                    r["shape"],
                    r["pass"],
                    *(f"{r['ms'][n]:.3f} ±{r['spread'][n]:.0%}" for n in b),
                    *(f"{r['vs_torch'][n]:.2f}" for n in compared),
                    *(f"{r['gflops'][n]:.1f}" for n in b),
                    *(f"{r['gbps'][n]:.1f}" if "gbps" in r else "" for n in b),
                ]
                for r in report.rows
            ],
            align="<<<" + ">" * (3 * len(b) + len(compared)),
        ),
    ]
    summary = report.summary()
    if summary:
        lines += ["", "x torch over the shapes (geometric mean, minimum):"]
        lines.append(
            format_table(
                ["backend op pass", "geomean", "min"],
                [[key, f"{v['geomean']:.2f}", f"{v['min']:.2f}"] for key, v in summary.items()],
            )
        )
    if report.memory:
        lines += ["", "BSConv-U peak memory, accel forward+backward: naive full kernel vs factorized"]
        lines.append(
            format_table(
                ["shape", "naive MiB", "factorized MiB", "ratio"],
                [
                    [
                        m["shape"],
                        f"{m['naive_mib']:.2f}",
                        f"{m['factorized_mib']:.2f}",
                        f"{m['naive_mib'] / m['factorized_mib']:.1f}x",
                    ]
                    for m in report.memory
                ],
            )
        )
    if report.compile:
        lines += ["", "accel import + first BSConv-U forward+backward (seconds)"]
        lines.append(
            format_table(
                ["cache", "import", "first call", "total"],
                [
                    [which, f"{c['import_s']:.2f}", f"{c['first_call_s']:.2f}", f"{c['total_s']:.2f}"]
                    for which, c in report.compile.items()
                ],
            )
        )
    return "\n".join(lines)


def write_json(report: Report, path: str) -> None:
    with open(path, "w") as f:
        json.dump(report.to_json(), f, indent=2)


def read_json(path) -> Report:
    """The ``Report`` that ``write_json`` wrote to ``path`` (its ``summary`` is computed again from the rows)."""
    with open(path) as f:
        saved = json.load(f)
    saved.pop("summary", None)
    saved["numba_layer"] = saved.pop("numba_threading_layer")
    return Report(**{**saved, "backends": tuple(saved["backends"])})
