"""``blueprint.sources``: a file that is no model is named as what it is, weights that do not fit the model and a
pickled module whose class cannot be imported are one line each, through every command that opens a model."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from blueprint.cli import main
from blueprint.models import create
from tests.cli_errors import error_line


@pytest.mark.parametrize(
    "content, said",
    [
        (
            b"# blueprint\n\nBlueprint Separable Convolutions\n",
            "is a text file (it begins '# blueprint'), not a torch.save file",
        ),
        (bytes(range(7, 250)) * 4, "is not a torch.save file (972 bytes beginning 07 08 09 0a)"),
        (b"", "is an empty file (0 bytes)"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_named_as_what_it_is(tmp_path, capsys, content, said):
    path = tmp_path / "last.pt"
    path.write_bytes(content)
    assert main(["evaluate", str(path)]) == 2
    line = error_line(capsys)
    assert line == (
        f"blueprint evaluate: error: MODEL: cannot read {path}: it {said}; expected a last.pt or "
        f"best.pt written by `blueprint train`"
    )
    assert main(["analyze", str(path), "--output-dir", str(tmp_path / "a")]) == 2
    line = error_line(capsys)
    assert f"MODEL: cannot read {path}: it {said}" in line and "weights_only" not in line


def test_a_file_holding_other_objects_is_named_without_torch_advice(tmp_path, capsys):
    torch.save({"model": {"w": torch.zeros(1)}, "extra": _Opaque()}, tmp_path / "odd.pt")
    assert main(["evaluate", str(tmp_path / "odd.pt")]) == 2
    line = error_line(capsys)
    assert "holds Python objects other than tensors and plain values" in line and "weights_only" not in line


class _Opaque:
    pass


def test_weights_that_do_not_fit_the_model_are_one_line_with_counts(tmp_path, capsys):
    path = tmp_path / "weights.pt"
    torch.save(create("digits_cnn", num_classes=10).state_dict(), path)
    assert main(["analyze", str(path), "--model", "resnet18", "--output-dir", str(tmp_path / "a")]) == 2
    line = error_line(capsys)
    assert "does not fit the model:" in line and "missing keys, e.g. " in line and "Error(s)" not in line


def test_a_pickled_module_whose_class_is_not_importable_names_the_class(tmp_path, capsys):
    script = f"""
import torch, torch.nn as nn
class MyOwnNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
torch.save(MyOwnNet(), {str(tmp_path / "whole.pt")!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert main(["profile", str(tmp_path / "whole.pt")]) == 2
    line = error_line(capsys)
    assert "MyOwnNet" in line and "damaged" not in line and line.startswith("blueprint profile: error: MODEL: ")
