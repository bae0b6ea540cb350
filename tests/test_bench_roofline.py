"""The roofline of ``blueprint bench roofline``: each point where its FLOPs, bytes and time put it, under the
roofs stored in the benchmarks' JSON, and a PNG drawn from that JSON alone (no benchmark runs here)."""

import json

import pytest

from blueprint import cli
from blueprint.benchmarks import roofline


def layers_report(peak=100.0, bandwidth=10.0) -> dict:
    """A ``bench layers`` JSON report of two rows, as ``layers.write_json`` writes it."""
    rows = [
        {
            "op": "depthwise",
            "shape": "2,8,8,8,3,1",
            "pass": "fwd",
            "flops": 2e6,
            "bytes": 1e6,
            "ms": {"accel": 1.0, "torch": 2.0},
            "spread": {"accel": 0.0, "torch": 0.0},
            "vs_torch": {"accel": 2.0, "torch": 1.0},
            "gflops": {"accel": 2.0, "torch": 1.0},
            "gbps": {"accel": 1.0, "torch": 0.5},
        },
        {
            "op": "bsconv_u",
            "shape": "2,8,8,8,3,1",
            "pass": "fwd+bwd",
            "flops": 8e7,
            "bytes": 2e6,
            "ms": {"accel": 1.0, "torch": 4.0},
            "spread": {"accel": 0.0, "torch": 0.0},
            "vs_torch": {"accel": 4.0, "torch": 1.0},
            "gflops": {"accel": 80.0, "torch": 20.0},
        },
    ]
    return {
        "threads": 2,
        "backends": ["accel", "torch"],
        "matmul_peak_gflops": peak,
        "copy_gbps": bandwidth,
        "copy_mib": 8,
        "blas": [],
        "numba_threading_layer": "omp",
        "allocator": "",
        "rows": rows,
        "summary": {},
        "compile": None,
        "memory": None,
    }


def latency_rows(peak=150.0, bandwidth=8.0) -> list[dict]:
    """One model at batch 32 on two runtimes, as ``latency.write_json`` writes its rows."""
    return [
        {
            "model": "cifar_resnet20",
            "role": "baseline",
            "params": 270_000,
            "macs": 41e6,
            "batch": 32,
            "bytes": 4.0 * (270_000 + 32 * (3072 + 10)),
            "pair": 0,
            "threads": 2,
            "matmul_peak_gflops": peak,
            "copy_gbps": bandwidth,
            "runtimes": {
                "eager": {"ms": 40.0, "spread": 0.0, "images_per_s": 800.0},
                "accel": {"ms": 20.0, "spread": 0.0, "images_per_s": 1600.0},
            },
        }
    ]


def test_an_op_lies_at_its_flops_over_bytes_and_its_gflops():
    points = roofline.op_points(layers_report()["rows"])
    assert [(p.group, p.kind, p.intensity, p.gflops) for p in points] == [
        ("accel", "depthwise fwd", 2.0, 2.0),
        ("torch", "depthwise fwd", 2.0, 1.0),
        ("accel", "bsconv_u fwd+bwd", 40.0, 80.0),
        ("torch", "bsconv_u fwd+bwd", 40.0, 20.0),
    ]


def test_a_model_lies_at_its_flops_over_input_weights_and_output_bytes():
    (row,) = latency_rows()
    points = roofline.model_points([row])
    intensity = 2 * 41e6 * 32 / (4.0 * (270_000 + 32 * 3082))
    assert [(p.group, p.kind, p.label) for p in points] == [
        ("eager", "batch 32", "cifar_resnet20"),
        ("accel", "batch 32", "cifar_resnet20"),
    ]
    assert [p.intensity for p in points] == pytest.approx([intensity] * 2)
    assert [p.gflops for p in points] == pytest.approx([65.6, 131.2])  # 2.624 GFLOP in 40 and 20 ms


def test_the_roof_is_the_bandwidth_slope_up_to_the_ridge_then_the_peak():
    assert roofline.roof(2.0, peak_gflops=100.0, copy_gbps=10.0) == 20.0  # memory-bound: 10 GB/s x 2 FLOP/B
    assert roofline.roof(10.0, peak_gflops=100.0, copy_gbps=10.0) == 100.0  # the ridge
    assert roofline.roof(50.0, peak_gflops=100.0, copy_gbps=10.0) == 100.0


def test_bench_roofline_draws_a_png_from_both_benchmarks_json(tmp_path, capsys):
    layers, latency = tmp_path / "layers.json", tmp_path / "latency.json"
    layers.write_text(json.dumps(layers_report()))
    latency.write_text(json.dumps({"rows": latency_rows(), "speedups": []}))
    png = tmp_path / "roofline.png"
    assert cli.main(["bench", "roofline", "--from-json", f"{layers},{latency}", "--png", str(png)]) == 0
    # six points; the highest peak (latency's 150) and bandwidth (layers' 10) of the two files
    assert capsys.readouterr().out.strip() == (
        f"wrote {png}: 6 points under a GEMM peak of 150.0 GFLOP/s and a copy bandwidth of 10.0 GB/s"
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_roofline_refuses_a_layers_report_without_flops_and_bytes_in_one_line(tmp_path, capsys):
    report = layers_report()
    for row in report["rows"]:
        del row["bytes"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(report))
    assert cli.main(["bench", "roofline", "--from-json", str(path), "--png", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"blueprint bench: error: --from-json: '{path}' holds no report of bench layers") and (
        err.count("\n") == 1
    )
