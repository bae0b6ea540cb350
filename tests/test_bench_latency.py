"""``blueprint bench latency --quick``: the smoke run of the inference benchmark, its table, JSON and PNG."""

import json

import pytest

from blueprint import cli

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")  # torch.export


def test_latency_quick_mode_times_every_runtime_and_writes_table_json_and_png(tmp_path, capsys):
    """torch.compile is left out here (its inductor build takes most of a minute on 2 cores); test_export
    checks that compiled inference equals eager."""
    runtimes = "eager,fused,onnxruntime,accel"
    argv = [
        "bench",
        "latency",
        "--quick",
        "--runtimes",
        runtimes,
        "--threads",
        "1",
        "--json",
        str(tmp_path / "l.json"),
        "--png",
        str(tmp_path / "l.png"),
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "digits_cnn_bsconvs_p1d4" in out and "onnxruntime speed-up" in out
    rows = json.loads((tmp_path / "l.json").read_text())["rows"]
    assert [(r["model"], r["role"], r["batch"]) for r in rows] == [
        ("digits_cnn", "baseline", 1),
        ("digits_cnn_bsconvs_p1d4", "bsconv", 1),
    ]
    assert all(list(r["runtimes"]) == runtimes.split(",") and r["macs"] > 0 for r in rows)
    assert all(t["ms"] > 0 and t["images_per_s"] == pytest.approx(1e3 / t["ms"]) for t in rows[0]["runtimes"].values())
    assert all(r["matmul_peak_gflops"] > 0 and r["copy_gbps"] > 0 and r["bytes"] > 0 for r in rows)
    assert "matrix-multiply peak" in out and "accel GF/s" in out
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # runs split by pairs come together again: two files, two pairs, one table
    path = str(tmp_path / "l.json")
    assert cli.main(["bench", "latency", "--from-json", f"{path},{path}", "--png", str(tmp_path / "b.png")]) == 0
    assert capsys.readouterr().out.count("digits_cnn -> digits_cnn_bsconvs_p1d4") == 2


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--runtimes", "eager,tvm"], "--runtimes: expected a comma-separated subset of"),
        (["--batches", "1,x"], "--batches: expected comma-separated ints >= 1, got '1,x'"),
        (["--pairs", "digits_cnn:nosuch"], "--pairs: unknown name 'nosuch'"),
        (["--repeats", "0"], "--repeats: expected an int >= 1, got 0"),
    ],
)
def test_latency_bad_arguments_are_one_line_before_anything_runs(capsys, argv, message):
    assert cli.main(["bench", "latency", "--quick", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"blueprint bench: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("content", ["not json", '{"rows": [{"model": "x"}]}', '{"other": 1}'])
def test_from_json_refuses_a_file_that_is_not_a_latency_run_in_one_line(tmp_path, capsys, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert cli.main(["bench", "latency", "--from-json", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith(f"blueprint bench: error: --from-json: '{path}' holds no rows written by the latency benchmark")
        and err.count("\n") == 1
    )


def test_fewest_bytes_of_a_forward_read_the_weights_once_and_each_image_in_and_out():
    from blueprint.benchmarks.latency import fewest_bytes

    # 1,000 weights; 32 images of 3x8x8 in and 10 classes out; float32
    assert fewest_bytes(params=1000, input_elements=192, output_elements=10, batch=32) == 4 * (1000 + 32 * 202)


def test_gflops_are_two_flops_per_multiply_add_of_the_batch_over_the_median():
    from blueprint.benchmarks.latency import gflops

    row = {"macs": 41e6, "batch": 32, "runtimes": {"accel": {"ms": 20.0}}}
    assert gflops(row, "accel") == pytest.approx(2 * 41e6 * 32 / 20e-3 / 1e9)  # 131.2


def test_rows_written_before_the_limits_existed_are_still_printed(tmp_path, capsys):
    row = {
        "pair": 0,
        "role": "baseline",
        "model": "digits_cnn",
        "batch": 1,
        "params": 10,
        "macs": 1e6,
        "threads": 2,
        "runtimes": {"eager": {"ms": 1.0, "spread": 0.0, "images_per_s": 1e3}},
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"rows": [row]}))
    assert cli.main(["bench", "latency", "--from-json", str(path)]) == 0
    assert "the machine's limits not measured in these runs" in capsys.readouterr().out
