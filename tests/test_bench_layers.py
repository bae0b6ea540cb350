"""``blueprint bench layers --quick`` runs and reports well-formed, positive figures (a smoke test, not a benchmark)."""

import json
import math

import pytest

from blueprint import cli


def test_bench_quick_reports_positive_timings_ratios_and_gflops(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "layers", "--quick", "--repeats", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "matrix-multiply peak" in printed and "geometric mean" in printed
    assert "accel-direct x torch" in printed and "accel-direct GF/s" in printed
    report = json.loads(out.read_text())
    backends = ["reference", "accel", "accel-direct", "torch"]
    assert report["backends"] == backends
    assert report["matmul_peak_gflops"] > 0 and report["copy_gbps"] > 0
    assert "memory-copy bandwidth" in printed and "GB/s" in printed
    assert len(report["rows"]) == 4 * 2 * 2  # ops x quick shapes x (fwd, fwd+bwd)
    for row in report["rows"]:
        for key in ("ms", "gflops", *(("gbps",) if row["op"] == "depthwise" else ())):
            assert set(row[key]) == set(backends)
            assert all(v > 0 and math.isfinite(v) for v in row[key].values())
        assert ("gbps" in row) == (row["op"] == "depthwise")
        assert all(v >= 0 for v in row["spread"].values())
        assert row["vs_torch"]["torch"] == 1.0
        assert all(g == pytest.approx(row["flops"] / row["ms"][b] / 1e6) for b, g in row["gflops"].items())
        assert row["bytes"] > 0
    assert report["allocator"]
    assert {
        f"accel-direct {op} {p}" for op in ("bsconv_u", "bsconv_s", "dsc", "depthwise") for p in ("fwd", "fwd+bwd")
    } <= set(report["summary"])
    for summary in report["summary"].values():
        assert 0 < summary["min"] <= summary["geomean"]
    for m in report["memory"]:
        assert m["naive_mib"] > 0 and m["factorized_mib"] > 0
    for which in ("cold", "warm"):
        assert all(v > 0 for v in report["compile"][which].values())


def test_the_factorized_bsconv_u_needs_less_memory_than_its_full_kernel():
    """Eq. (6)-(7) against the full kernel of Eq. (2) with im2col, forward + backward on accel, at a shape whose
    channels fill accel's 16-column tiles (at the quick shapes' 8 channels the tiles' padding of the pointwise
    products is the larger term, and the two come out within a few percent)."""
    from blueprint.benchmarks.memory import bsconv_u_peak_memory
    from blueprint.benchmarks.ops import Shape

    m = bsconv_u_peak_memory(Shape(2, 16, 16, 16, 3, 1))
    assert m["naive_mib"] > 2 * m["factorized_mib"] > 0


def test_bench_reference_against_torch_only(capsys):
    """The vectorized reference against PyTorch, nothing else."""
    assert (
        cli.main(["bench", "layers", "--quick", "--repeats", "1", "--backends", "reference,torch", "--ops", "dsc"]) == 0
    )
    printed = capsys.readouterr().out
    assert "reference x torch" in printed and "accel" not in printed


def test_accel_direct_calls_accel_as_a_user_does_with_its_own_matmul(monkeypatch):
    """accel-direct passes no ``matmul``, so accel's default product (``accel.gemm.matmul``) runs; the accel
    backend's runner passes PyTorch's."""
    import accel
    import accel.gemm
    from blueprint.backend import torch_matmul
    from blueprint.benchmarks.ops import QUICK_SHAPES, runner

    seen = []
    real = accel.bsconv_u_forward

    def spy(*args, **kwargs):
        y, cache = real(*args, **kwargs)
        seen.append(("matmul" in kwargs, cache.matmul))
        return y, cache

    monkeypatch.setattr(accel, "bsconv_u_forward", spy)
    for backend in ("accel-direct", "accel"):
        for call in runner(backend, "bsconv_u", QUICK_SHAPES[0]):
            call()
    assert seen == [(False, accel.gemm.matmul)] * 2 + [(True, torch_matmul)] * 2


def test_bench_refuses_unknown_backends(capsys):
    assert cli.main(["bench", "layers", "--backends", "reference,cuda"]) == 2
    assert (
        "--backends: expected a comma-separated subset of reference,accel,accel-direct,torch, got 'reference,cuda'"
        in (capsys.readouterr().err)
    )


def test_bench_refuses_an_unwritable_json_path_before_measuring(tmp_path, capsys):
    missing = tmp_path / "nowhere" / "x.json"
    assert cli.main(["bench", "layers", "--quick", "--json", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json: the folder" in err and "does not exist" in err


def test_kept_freed_memory_spares_repeated_large_allocations_their_page_faults():
    """After ``keep_freed_memory``, allocating, touching and freeing the same 8 MiB again costs no page faults."""
    resource = pytest.importorskip("resource")
    import numpy as np

    from blueprint.benchmarks.allocator import keep_freed_memory

    if not keep_freed_memory().startswith("glibc"):
        pytest.skip("not glibc's malloc")
    np.ones(2 << 20, dtype=np.float32)  # 8 MiB, once: the heap grows to hold it
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        np.ones(2 << 20, dtype=np.float32)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before < 100  # not 5 x 2048 pages
