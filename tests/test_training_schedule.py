"""Item 2 of "A practitioner's week": a run resumed with another ``--epochs`` follows the schedule of the new total."""

from __future__ import annotations

import csv

import pytest
import torch

from blueprint.cli import main
from blueprint.training import fit, load_checkpoint, recipe


def digits(out, epochs, *extra):
    argv = ["train", "--model", "digits_cnn", "--dataset", "digits", "--epochs", str(epochs), "--output-dir", str(out)]
    assert main([*argv, *extra]) == 0


def resume(out, epochs):
    assert main(["train", "--resume", "--output-dir", str(out), "--epochs", str(epochs)]) == 0


def lrs(out) -> list[float]:
    with open(out / "metrics.csv") as f:
        return [float(row["lr"]) for row in csv.DictReader(f)]


def test_extending_a_linear_run_continues_the_longer_schedule_with_no_epoch_at_lr_zero(tmp_path, capsys):
    digits(tmp_path / "straight", 6)
    digits(tmp_path / "extended", 3)
    after_three = load_checkpoint(str(tmp_path / "extended" / "last.pt"))["model"]
    capsys.readouterr()
    resume(tmp_path / "extended", 6)
    assert "the linear schedule of 6 epochs (re-planned from 3) goes on at lr 0.025" in capsys.readouterr().out
    assert lrs(tmp_path / "extended")[3:] == pytest.approx(lrs(tmp_path / "straight")[3:])
    assert lrs(tmp_path / "straight") == pytest.approx([0.05 * (1 - e / 6) for e in range(6)], rel=1e-5)
    after_four = load_checkpoint(str(tmp_path / "extended" / "last.pt"))["model"]
    assert any(not torch.equal(after_three[k], after_four[k]) for k in after_three)  # epoch 4 learned


def test_extending_a_step_run_gives_the_weights_of_the_unbroken_run(tmp_path):
    step = ("--schedule", "step", "--milestones", "2,4")
    digits(tmp_path / "straight", 5, *step)
    digits(tmp_path / "extended", 3, *step)
    resume(tmp_path / "extended", 5)
    assert lrs(tmp_path / "extended") == pytest.approx(lrs(tmp_path / "straight"))
    a, b = (load_checkpoint(str(tmp_path / run / "last.pt"))["model"] for run in ("straight", "extended"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_shortening_a_linear_run_ends_on_the_shorter_schedule(tmp_path):
    def stop_after_epoch_two(line):
        if line.startswith("epoch   2/5"):
            raise KeyboardInterrupt

    config = recipe("digits", epochs=5, output_dir=str(tmp_path / "run"))
    with pytest.raises(KeyboardInterrupt):
        fit(config, log=stop_after_epoch_two)
    resume(tmp_path / "run", 3)  # planned for 5 epochs, now 3: the third runs at 0.05 * (1 - 2/3)
    assert lrs(tmp_path / "run") == pytest.approx([0.05, 0.04, 0.05 / 3], rel=1e-5)


def test_resuming_a_finished_run_without_more_epochs_is_refused_naming_the_flag(tmp_path, capsys):
    digits(tmp_path / "run", 2)
    capsys.readouterr()
    assert main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("blueprint train: error: --epochs:") and "holds 2 epochs" in err[0]
