"""``blueprint bench backends`` runs and prints the accel/torch table (a smoke test, not a benchmark)."""

import re

import pytest

from blueprint import cli


def test_backends_bench_prints_a_ratio_and_spread_per_model_and_the_geometric_mean(capsys):
    argv = [
        "bench",
        "backends",
        "--models",
        "cifar_mobilenetv1_w1d2_bsconvu",
        "--threads",
        "1",
        "--rounds",
        "2",
        "--warmup",
        "0",
        "--batch-scale",
        "32",
        "--layouts",
        "nchw,channels-last",
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("1 ") and "threads" not in line]
    assert [row[1] for row in rows] == ["nchw", "channels-last"]
    for threads, _, model, batch, torch_ms, accel_ms, ratio, spread, torch_gflops, accel_gflops in rows:
        assert (threads, model, batch) == ("1", "cifar_mobilenetv1_w1d2_bsconvu", "2")
        assert float(torch_ms) > 0 and float(accel_ms) > 0
        assert abs(float(ratio.rstrip("x")) - float(torch_ms) / float(accel_ms)) < 0.01
        low, high = map(float, spread.split("-"))
        assert 0 < low <= high
        assert float(torch_gflops) > 0 and float(accel_gflops) > 0
    for layout in ("nchw", "channels-last"):
        assert re.search(
            rf"^1 threads, {layout}: geometric mean \d+\.\d\dx, minimum \d+\.\d\dx; measured float32 "
            r"matrix-multiply peak \d+\.\d GFLOP/s$",
            out,
            re.M,
        )


def test_a_training_steps_flops_are_three_forwards_of_the_batch():
    from blueprint.benchmarks.backends import step_flops
    from blueprint.benchmarks.machine import rate

    flops = step_flops(multiply_adds=1_000_000, batch=64)
    assert flops == 3 * 2 * 1_000_000 * 64
    assert rate(flops, 100.0) == pytest.approx(3.84)  # GFLOP/s of a 100 ms step


def test_backends_bench_refuses_bad_arguments_in_one_line(capsys):
    assert cli.main(["bench", "backends", "--threads", "2,0"]) == 2
    err = capsys.readouterr().err
    assert "--threads: expected comma-separated ints >= 1, got '2,0'" in err and err.count("\n") == 1
    assert cli.main(["bench", "backends", "--models", "resnet"]) == 2
    assert "--models: expected a comma-separated subset of" in capsys.readouterr().err
    assert cli.main(["bench", "backends", "--layouts", "nhwc"]) == 2
    err = capsys.readouterr().err
    assert "--layouts: expected a comma-separated subset of nchw,channels-last, got 'nhwc'" in err
    assert err.count("\n") == 1
