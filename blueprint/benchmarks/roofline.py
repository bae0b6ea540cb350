"""The roofline: each op of ``bench layers`` and each model of ``bench latency`` against the machine's two limits.

A point's x is its arithmetic intensity, FLOPs over the fewest bytes it must move (a ``bench layers`` row:
``ops.fewest_bytes``, inputs, weights and outputs once in float32; a ``bench latency`` row: input + weights +
output of the batch once, ``latency.fewest_bytes``), its y the GFLOP/s it reached. The roof is
``min(peak, bandwidth x intensity)``: the measured float32 GEMM peak and memory-copy bandwidth
(``blueprint.benchmarks.machine``), stored in the JSON of both benchmarks; where several files are read the
highest of each is drawn (the most the machine showed). A point far below the slanted roof is slow for its
traffic; one near the flat roof can only gain by doing fewer FLOPs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    panel: str  # "ops" or "models"
    group: str  # the colour: a backend or a runtime
    kind: str  # the marker: an op and pass, or a batch size
    label: str  # the op's shape or the model's name
    intensity: float  # FLOP per byte
    gflops: float


def op_points(rows: list[dict]) -> list[Point]:
    """One point per (op, shape, pass, backend) of the rows of a ``bench layers`` report."""
    return [
        Point("ops", backend, f"{r['op']} {r['pass']}", r["shape"], r["flops"] / r["bytes"], rate)
        for r in rows
        for backend, rate in r["gflops"].items()
    ]


def model_points(rows: list[dict]) -> list[Point]:
    """One point per (model, batch, runtime) of ``bench latency`` rows (FLOPs: 2 per multiply-add)."""
    from blueprint.benchmarks.latency import gflops

    return [
        Point(
            "models",
            runtime,
            f"batch {r['batch']}",
            r["model"],
            2.0 * r["macs"] * r["batch"] / r["bytes"],
            gflops(r, runtime),
        )
        for r in rows
        for runtime in r["runtimes"]
    ]


def read(paths) -> tuple[list[Point], float, float]:
    """The points of the ``--json`` files of ``bench layers`` and ``bench latency`` at ``paths`` (each file's
    kind told by its content, each read by its benchmark's ``read_json``), with the highest GEMM peak and copy
    bandwidth stored in them."""
    from blueprint.benchmarks import latency, layers

    points, found, runs = [], [], []
    for path in paths:
        try:
            with open(path) as f:
                is_layers = "backends" in json.load(f)
            if is_layers:
                report = layers.read_json(path)
                if not all({"flops", "bytes"} <= set(r) for r in report.rows):
                    raise KeyError("the rows' flops and bytes")
                points += op_points(report.rows)
                found.append((report.matmul_peak_gflops, report.copy_gbps))
            else:
                runs.append(path)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"paths: {path!r} holds no report of bench layers with FLOPs and bytes ({err})") from None
    if runs:
        rows = latency.read_json(runs)
        old = next((r for r in rows if not {"bytes", "matmul_peak_gflops", "copy_gbps"} <= set(r)), None)
        if old is not None:
            raise ValueError(
                f"paths: the latency rows of {old['model']} hold no bytes and machine limits; expected "
                "rows of a run of this version"
            )
        points += model_points(rows)
        found += [(r["matmul_peak_gflops"], r["copy_gbps"]) for r in rows]
    if not points:
        raise ValueError(f"paths: expected JSON files of bench layers or bench latency, got {list(paths)!r}")
    return points, max(p for p, _ in found), max(b for _, b in found)


def roof(intensity: float, peak_gflops: float, copy_gbps: float) -> float:
    """The most GFLOP/s at this FLOP-per-byte intensity: bandwidth-bound below ``peak / bandwidth``, then the peak."""
    return min(peak_gflops, copy_gbps * intensity)


def plot(points: list[Point], peak_gflops: float, copy_gbps: float, path: str) -> None:
    """A log-log PNG (``blueprint.plotting``: the book's column width), one panel per kind of point present (ops,
    models), each with its legend below it: colour = backend or runtime, marker = op and pass or batch size, both
    roofs drawn and labelled; each model numbered above its points (a model's runtimes share its intensity), the
    numbers named in the legend."""
    from blueprint import plotting

    panels = [p for p in ("ops", "models") if any(q.panel == p for q in points)]
    fig = plotting.figure(0.6 + 7.6 * len(panels))
    ridge = peak_gflops / copy_gbps
    markers = "os^vDP*Xph<>"
    for ax, panel in zip(fig.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        here = [p for p in points if p.panel == panel]
        xs = [p.intensity for p in here] + [ridge]
        lo, hi = min(xs) / 2, max(xs) * 2
        groups, kinds = list(dict.fromkeys(p.group for p in here)), list(dict.fromkeys(p.kind for p in here))
        ax.plot([lo, ridge, hi], [roof(lo, peak_gflops, copy_gbps), peak_gflops, peak_gflops], color="black", lw=1.5)
        ax.annotate(
            f"GEMM peak {peak_gflops:.0f} GFLOP/s",
            (hi, peak_gflops),
            xytext=(-4, 4),
            textcoords="offset points",
            ha="right",
        )
        ax.annotate(
            f"copy bandwidth {copy_gbps:.1f} GB/s",
            (lo, roof(lo, peak_gflops, copy_gbps)),
            xytext=(4, 6),
            textcoords="offset points",
            rotation=25,
        )
        for p in here:
            ax.scatter(
                p.intensity,
                p.gflops,
                s=40,
                color=f"C{groups.index(p.group) % 10}",
                marker=markers[kinds.index(p.kind) % len(markers)],
                alpha=0.8,
                zorder=3,
            )
        numbers = list(dict.fromkeys(p.label for p in here)) if panel == "models" else []
        for label, x in dict.fromkeys((p.label, p.intensity) for p in here if p.label in numbers):
            top = max(p.gflops for p in here if (p.label, p.intensity) == (label, x))
            ax.annotate(
                str(1 + numbers.index(label)),
                (x, top),
                xytext=(0, 5),
                textcoords="offset points",
                ha="center",
            )
        for i, g in enumerate(groups):
            ax.scatter([], [], color=f"C{i % 10}", marker="o", label=g)
        for i, k in enumerate(kinds):
            ax.scatter([], [], color="grey", marker=markers[i % len(markers)], label=k)
        for i, label in enumerate(numbers):
            ax.plot([], [], " ", label=f"{1 + i}: {label}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(top=2 * peak_gflops)
        ax.set_xlabel("arithmetic intensity (FLOP per byte, fewest bytes moved)")
        ax.set_ylabel("achieved GFLOP/s")
        ax.set_title("bench layers: ops" if panel == "ops" else "bench latency: models")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2)
    fig.suptitle("Roofline: float32, measured GEMM peak\nand memory-copy bandwidth")
    plotting.save(fig, path)
