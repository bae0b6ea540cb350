"""``blueprint bench training`` runs and reports positive figures (a smoke test, not a benchmark)."""

import re

import pytest

from blueprint import cli


@pytest.mark.parametrize("backend", ["torch", "accel"])
def test_training_bench_reports_each_model_of_a_pair_with_positive_rates(backend, capsys):
    argv = [
        "bench",
        "training",
        "--pairs",
        "digits_cnn:digits_cnn_bsconvu",
        "--batch-size",
        "8",
        "--steps",
        "1",
        "--warmup",
        "0",
        "--backend",
        backend,
    ]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"backend {backend}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("digits_cnn")}
    assert set(rows) == {"digits_cnn", "digits_cnn_bsconvu"}
    for cells in rows.values():
        ms, images_per_s = float(cells[3]), float(cells[4].replace(",", ""))
        assert ms > 0 and images_per_s > 0
        assert re.fullmatch(r"\d+\.\d\dx", cells[5])
    assert rows["digits_cnn"][5] == "1.00x"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pairs", "digits_cnn"], "--pairs: expected comma-separated BASELINE:BSCONV items, got 'digits_cnn'"),
        (
            ["--pairs", "digits_cnn:digits_cnn_bsconv"],
            "--pairs: unknown name 'digits_cnn_bsconv'; closest: digits_cnn_bsconvu",
        ),
        (["--steps", "0"], "--steps: expected an int >= 1, got 0"),
    ],
)
def test_training_bench_refuses_bad_arguments_in_one_line(argv, message, capsys):
    assert cli.main(["bench", "training", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_training_bench_refuses_an_unknown_backend(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["bench", "training", "--backend", "cuda"])
    assert exit_.value.code == 2
    assert "invalid choice: 'cuda'" in capsys.readouterr().err
