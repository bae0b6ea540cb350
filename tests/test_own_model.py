""" "Your own model" of "A practitioner's week": ``train --model package.module:factory`` and ``fit(config, model=)``,
their checkpoints loadable by every command."""

from __future__ import annotations

import textwrap

import pytest

from blueprint.cli import main
from blueprint.training import fit, recipe
from blueprint.training.checkpoint import read_checkpoint
from tests.training_data import digits_args

MODULE = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3),
                                  nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, num_classes))

    def forward(self, x):
        return self.body(x)


def make(num_classes):
    return Net(num_classes)
"""


@pytest.fixture
def mynet(tmp_path, monkeypatch):
    (tmp_path / "mynet_for_tests.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def every_command_loads(checkpoint, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", checkpoint]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["profile", checkpoint, "--summary"]) == 0
    assert "input 1x8x8" in capsys.readouterr().out
    assert main(["export", checkpoint, "--onnx", str(tmp_path / "own.onnx")]) == 0
    assert main(["analyze", checkpoint, "--output-dir", str(tmp_path / "analysis")]) == 0


def test_train_takes_a_factory_and_every_command_loads_its_checkpoint(mynet, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(list(digits_args(out, model="mynet_for_tests:make"))) == 0
    assert read_checkpoint(str(out / "last.pt")).model_name == "mynet_for_tests:make"
    every_command_loads(str(out / "last.pt"), tmp_path, capsys)


def test_fit_takes_a_module_and_records_its_class_as_the_factory(mynet, tmp_path, capsys):
    import mynet_for_tests

    config = recipe("digits", epochs=1, output_dir=str(tmp_path / "run"))
    fit(config, model=mynet_for_tests.Net(10))
    assert read_checkpoint(str(tmp_path / "run" / "last.pt")).model_name == "mynet_for_tests:Net"
    every_command_loads(str(tmp_path / "run" / "last.pt"), tmp_path, capsys)


def test_a_factory_that_cannot_be_imported_is_one_line_naming_the_flag(capsys):
    assert main(["train", "--model", "no_such_module_here:make", "--dataset", "digits"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("blueprint train: error: --model: cannot import 'no_such_module_here'")
