"""``python -m blueprint.training.throughput`` runs and reports positive figures (a smoke test, not a benchmark)."""
import re

import pytest

from blueprint.training import throughput


@pytest.mark.parametrize("backend", ["torch", "accel"])
def test_throughput_reports_each_model_of_a_pair_with_positive_rates(backend, capsys):
    argv = ["--pairs", "digits_cnn:digits_cnn_bsconvu", "--batch-size", "8", "--steps", "1", "--warmup", "0",
            "--backend", backend]  # fmt: skip
    assert throughput.main(argv) == 0
    out = capsys.readouterr().out
    assert f"backend {backend}" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("digits_cnn")}
    assert set(rows) == {"digits_cnn", "digits_cnn_bsconvu"}
    for cells in rows.values():
        ms, images_per_s = float(cells[3]), float(cells[4].replace(",", ""))
        assert ms > 0 and images_per_s > 0
        assert re.fullmatch(r"\d+\.\d\dx", cells[5])
    assert rows["digits_cnn"][5] == "1.00x"


def test_throughput_refuses_malformed_pairs_and_unknown_backends(capsys):
    with pytest.raises(SystemExit):
        throughput.main(["--pairs", "digits_cnn"])
    assert "--pairs: expected BASELINE:BSCONV items" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        throughput.main(["--backend", "cuda"])
    assert "invalid choice: 'cuda'" in capsys.readouterr().err
