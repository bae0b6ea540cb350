"""``blueprint bench latency``: inference latency of baselines against their BSConv variants, five runtimes.

For each model of each (baseline, BSConv) pair and each batch size, one forward (eval mode, float32, no
autograd) on each runtime:

- ``eager``: the model as built, PyTorch eager;
- ``fused``: ``blueprint.fuse(model)`` (BatchNorms folded, BSConv-S merged where cheaper), PyTorch eager;
- ``compile``: ``torch.compile`` of the fused model (inductor, one static graph per batch size);
- ``onnxruntime``: the fused model exported to ONNX (``blueprint.deployment``), onnxruntime's CPU provider,
  its threads sleeping between runs (spinning, they took a core from the runtime timed next: accel's batch-1
  MobileNetV3 went from 14 ms to 22-33 ms, while onnxruntime's own latency moved less than the noise);
- ``accel``: the fused model on the accel inference engine (``blueprint.inference.InferenceEngine``: whole
  blocks in accel's fused channels-last kernels, one layout change at the entry and exit, the rest on PyTorch).

Every runtime gets the same thread count (PyTorch's intra-op pool, Numba, BLAS and onnxruntime's intra-op
pool). Both models of a pair are timed together: after warm-up calls, ``repeats`` rounds each time one call
of every (model, runtime), in an order that rotates from round to round (``blueprint.benchmarks.timing``),
so that the machine's drift hits both models and all runtimes alike; the figure is the median over the
rounds and the spread is the interquartile range over the median. Parameters and multiply-adds per image
come from ``blueprint.profile`` of the model as built. Each runtime's GFLOP/s (``gflops``) is 2 x multiply-adds
per image x batch over its median time, printed beside the machine's float32 GEMM peak and copy bandwidth
(``blueprint.benchmarks.machine``, measured once per run at its thread count and stored in every row). A row
also stores the fewest bytes a forward of the batch moves, input + weights + output once in float32
(``fewest_bytes``), for the roofline (``blueprint.benchmarks.roofline``). Rows written before these fields
existed are still read and printed, with no limits line.
"""

from __future__ import annotations

import functools
import json
import math
import os
import tempfile

import numba
import threadpoolctl
import torch

import blueprint
from blueprint import deployment
from blueprint.benchmarks.machine import copy_bandwidth_gbps, matmul_peak_gflops, rate
from blueprint.benchmarks.timing import alternated_ms, median_spread
from blueprint.inference import InferenceEngine
from blueprint.menus import LATENCY_PAIRS, LATENCY_RUNTIMES
from blueprint.models import create, input_size
from blueprint.progress import progress
from blueprint.tables import format_table

BATCHES = (1, 32)
# what read_json requires of every row (the roofline also needs "bytes" and the machine's limits)
ROW_FIELDS = ("pair", "role", "model", "batch", "macs", "runtimes")
ROLES = ("baseline", "bsconv")


def runtimes(model: torch.nn.Module, size: tuple[int, int, int], chosen, folder: str) -> dict:
    """``{runtime: forward(x)}`` for the ``chosen`` runtimes of ``model`` (see the module docstring)."""
    fused = blueprint.fuse(model)
    calls = {"eager": model, "fused": fused}
    if "compile" in chosen:
        calls["compile"] = torch.compile(fused, dynamic=False)
    if "onnxruntime" in chosen:
        path = os.path.join(folder, "model.onnx")
        deployment.export_onnx(fused, path, size)
        session = deployment.onnx_session(path, torch.get_num_threads(), spinning=False)
        calls["onnxruntime"] = lambda x: deployment.run_onnx(session, x)

    if "accel" in chosen:
        calls["accel"] = InferenceEngine(fused)
    return {r: calls[r] for r in chosen}


def check_agreement(calls: dict, x: torch.Tensor) -> None:
    """Every runtime computes what eager PyTorch does (to float32 rounding), or the timings would mean nothing."""
    expected = calls["eager"](x) if "eager" in calls else None
    for name, call in calls.items():
        if expected is not None and not torch.allclose(call(x), expected, rtol=1e-3, atol=1e-3):
            raise RuntimeError(f"latency: runtime {name} disagrees with eager PyTorch")


def fewest_bytes(params: int, input_elements: int, output_elements: int, batch: int) -> float:
    """The fewest bytes a float32 forward of ``batch`` images moves: the weights read once, each image's input
    read and output written once (the activations in between kept in cache, as a fused runtime can)."""
    return 4.0 * (params + batch * (input_elements + output_elements))


def gflops(row: dict, runtime: str) -> float:
    """The GFLOP/s of ``runtime`` on ``row``: 2 FLOPs per multiply-add, per image, x batch, over its median ms."""
    return rate(2.0 * row["macs"] * row["batch"], row["runtimes"][runtime]["ms"])


def measure_pair(pair: tuple[str, str], chosen, batches, repeats: int, warmup: int, on_round=None) -> list[dict]:
    """One row per model of ``pair`` and batch size: its cost and each runtime's median ms, spread, images/s.
    Both models on every runtime go into one alternation, so the BSConv-over-baseline ratio compares two
    things timed under the same machine state."""
    models, calls = {}, {}
    with tempfile.TemporaryDirectory() as folder, torch.no_grad():
        for role, name in zip(ROLES, pair):
            size = input_size(name)
            torch.manual_seed(0)
            model = create(name).eval()
            models[role] = (name, size, blueprint.profile(model, size), model(torch.zeros(1, *size)).numel())
            os.makedirs(os.path.join(folder, role))
            calls[role] = runtimes(model, size, chosen, os.path.join(folder, role))
            check_agreement(calls[role], torch.randn(2, *size))
        rows = []
        for batch in batches:
            inputs = {role: torch.randn(batch, *size) for role, (_, size, _, _) in models.items()}  # B,C,H,W
            ms = alternated_ms(
                {
                    (role, runtime): functools.partial(call, inputs[role])
                    for role in models
                    for runtime, call in calls[role].items()
                },
                repeats,
                warmup,
                on_round,
            )
            for role, (name, size, cost, outputs) in models.items():
                row = {
                    "model": name,
                    "role": role,
                    "params": cost.params,
                    "macs": cost.flops,
                    "batch": batch,
                    "bytes": fewest_bytes(cost.params, math.prod(size), outputs, batch),
                    "runtimes": {},
                }
                for runtime in calls[role]:
                    median, spread = median_spread(ms[role, runtime])
                    row["runtimes"][runtime] = {"ms": median, "spread": spread, "images_per_s": 1e3 * batch / median}
                rows.append(row)
    return rows


def run(
    pairs=LATENCY_PAIRS,
    chosen=LATENCY_RUNTIMES,
    batches=BATCHES,
    repeats: int = 10,
    warmup: int = 2,
    threads: int = 0,
    on_row=None,
    copy_mib: int = 256,
) -> list[dict]:
    """``measure_pair`` for every pair, all runtimes on ``threads`` threads (0: PyTorch's count), after measuring
    the GEMM peak and the bandwidth of a ``copy_mib`` MiB copy. Each row gets ``pair`` (its index), ``role``
    (baseline or bsconv), ``threads`` and those two limits; ``on_row(row)`` sees each as it is done."""
    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    rows, at = [], []  # at: the pair being measured
    bar = progress(len(pairs) * len(batches) * (warmup + repeats), "bench latency", status=lambda: " ".join(at))
    with threadpoolctl.threadpool_limits(threads), bar:
        limits = {"matmul_peak_gflops": matmul_peak_gflops(), "copy_gbps": copy_bandwidth_gbps(copy_mib)}
        for index, pair in enumerate(pairs):
            at[:] = [":".join(pair)]
            for row in measure_pair(pair, chosen, batches, repeats, warmup, on_round=lambda: bar.update(1)):
                row.update(pair=index, threads=threads, **limits)
                rows.append(row)
                if on_row:
                    on_row(row)
    return rows


def speedups(rows: list[dict]) -> list[dict]:
    """Per pair and batch: the baseline's median ms over the BSConv model's, per runtime (above 1: BSConv faster)."""
    out = []
    for base in (r for r in rows if r["role"] == "baseline"):
        variant = next(
            (r for r in rows if r["pair"] == base["pair"] and r["role"] == "bsconv" and r["batch"] == base["batch"]),
            None,
        )
        if variant is None:  # a run cut short before the pair's BSConv model
            continue
        ratio = {k: base["runtimes"][k]["ms"] / v["ms"] for k, v in variant["runtimes"].items()}
        out.append(
            {
                "baseline": base["model"],
                "bsconv": variant["model"],
                "batch": base["batch"],
                "macs_ratio": base["macs"] / variant["macs"],
                "speedup": ratio,
            }
        )
    return out


def format_report(rows: list[dict]) -> str:
    """The latency table (median ms, spread, images/s and GFLOP/s per runtime) and the BSConv-over-baseline
    speed table, under the machine's limits (those of the first row: runs read together may differ)."""
    chosen = list(rows[0]["runtimes"])
    header = (
        "model",
        "batch",
        "params",
        "MMACs/image",
        *(f"{r} ms (images/s)" for r in chosen),
        *(f"{r} GF/s" for r in chosen),
    )
    body = [
        (
            r["model"],
            str(r["batch"]),
            f"{r['params']:,}",
            f"{r['macs'] / 1e6:.1f}",
            *(f"{t['ms']:.2f} ±{t['spread']:.0%} ({t['images_per_s']:,.0f})" for t in r["runtimes"].values()),
            *(f"{gflops(r, runtime):.1f}" for runtime in r["runtimes"]),
        )
        for r in rows
    ]
    ratio_header = ("baseline -> BSConv", "batch", "baseline/BSConv MACs", *(f"{r} speed-up" for r in chosen))
    ratio_body = [
        (
            f"{s['baseline']} -> {s['bsconv']}",
            str(s["batch"]),
            f"{s['macs_ratio']:.2f}x",
            *(f"{v:.2f}x" for v in s["speedup"].values()),
        )
        for s in speedups(rows)
    ]
    threads = rows[0]["threads"]
    limits = "GF/s = 2 x multiply-adds x batch / median time; " + (
        f"measured float32 matrix-multiply peak: {rows[0]['matmul_peak_gflops']:.1f} GFLOP/s; memory-copy bandwidth: "
        f"{rows[0]['copy_gbps']:.1f} GB/s"
        if "matmul_peak_gflops" in rows[0]
        else "the machine's limits not measured in these runs"
    )
    return (
        f"inference latency, float32, {threads} threads for every runtime; median over rounds ± interquartile "
        f"range\n{limits}\n{format_table(header, body)}\n\nspeed-up of BSConv over its baseline (baseline ms / BSConv ms; "
        f"above 1: BSConv is faster)\n{format_table(ratio_header, ratio_body)}"
    )


def plot(rows: list[dict], path: str) -> None:
    """A PNG of median latency against multiply-adds per image (``blueprint.plotting``: the book's column width):
    one panel per batch size, one colour per runtime, filled markers for baselines and hollow ones for BSConv
    models, a line from each baseline to its BSConv variant; each model numbered beside its eager point, the
    numbers named in the legend below."""
    from blueprint import plotting

    batches = sorted({r["batch"] for r in rows})
    chosen = list(rows[0]["runtimes"])
    models = list(dict.fromkeys(r["model"] for r in sorted(rows, key=lambda r: (r["pair"], r["role"]))))
    fig = plotting.figure(1.4 + 4.4 * len(batches) + 0.22 * (len(models) + len(chosen)))
    for ax, batch in zip(fig.subplots(len(batches), 1, squeeze=False)[:, 0], batches):
        here = [r for r in rows if r["batch"] == batch]
        for i, runtime in enumerate(chosen):
            colour = f"C{i}"
            for pair in sorted({r["pair"] for r in here}):
                members = sorted((r for r in here if r["pair"] == pair), key=lambda r: r["role"])
                xs = [r["macs"] / 1e6 for r in members]
                ys = [r["runtimes"][runtime]["ms"] for r in members]
                ax.plot(xs, ys, color=colour, linewidth=0.8, alpha=0.6)
                for r, x, y in zip(members, xs, ys):
                    ax.scatter(
                        x,
                        y,
                        s=36,
                        color=colour,
                        facecolors=colour if r["role"] == "baseline" else "none",
                        label=runtime if (batch, pair, r["role"]) == (batches[-1], 0, "baseline") else None,
                        zorder=3,
                    )
        for r in (r for r in here if "eager" in r["runtimes"]):  # baselines numbered above, BSConv below
            ax.annotate(
                str(1 + models.index(r["model"])),
                (r["macs"] / 1e6, r["runtimes"]["eager"]["ms"]),
                xytext=(3, 3 if r["role"] == "baseline" else -11),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("multiply-adds per image (millions)")
        ax.set_ylabel(f"median latency, batch of {batch} (ms)")
        ax.set_title(f"batch {batch}: filled = baseline, hollow = BSConv")
        ax.grid(True, which="both", alpha=0.3)
    for i, model in enumerate(models):
        fig.axes[-1].plot([], [], " ", label=f"{1 + i}: {model}")
    fig.axes[-1].legend(  # below the last panel
        loc="upper center", bbox_to_anchor=(0.5, -0.15), title="runtimes; models, numbered beside their eager points"
    )
    fig.suptitle(f"Inference latency against multiply-adds,\n{rows[0]['threads']} CPU threads for every runtime")
    plotting.save(fig, path)


def read_json(paths) -> list[dict]:
    """The rows of several ``write_json`` files (runs split by pairs) as one run: pairs renumbered in file order."""
    rows = []
    for path in paths:
        try:
            with open(path) as f:
                here = json.load(f)["rows"]
            if not all(set(ROW_FIELDS) <= set(r) for r in here):
                raise KeyError("a row's fields")
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"paths: {path!r} holds no rows written by the latency benchmark ({err})") from None
        offset = 1 + max((r["pair"] for r in rows), default=-1)
        rows += [{**r, "pair": r["pair"] + offset} for r in here]
    return rows


def write_json(rows: list[dict], path: str) -> None:
    with open(path, "w") as f:
        json.dump({"rows": rows, "speedups": speedups(rows)}, f, indent=1)
