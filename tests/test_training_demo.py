"""`blueprint demo` (the README's main job) in its quick mode: both models train, the table and plots appear."""

from blueprint.cli import main


def test_demo_quick_prints_the_comparison_and_saves_the_plots(tmp_path, capsys):
    assert main(["demo", "--quick", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    table = out[out.index("model ") :].splitlines()
    header = ["model", "parameters", "MFLOPs/image", "test", "accuracy", "train", "images/s", "seconds"]
    assert table[0].split() == header
    rows = {line.split()[0]: line.split() for line in table[2:4]}
    assert set(rows) == {"digits_cnn", "digits_cnn_bsconvu"}
    params = {name: int(row[1].replace(",", "")) for name, row in rows.items()}
    assert params["digits_cnn_bsconvu"] < params["digits_cnn"] / 5  # Sec. 3.3.1: M*N + N*K^2 instead of M*N*K^2
    assert (tmp_path / "demo.png").stat().st_size > 0
    for name in rows:
        assert (tmp_path / name / "metrics.csv").is_file() and (tmp_path / name / "curves.png").is_file()
