"""The command line: fast --help, one line per failure, library words in the library and flags on the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from blueprint.cli import build_parser, in_flags, main
from blueprint.models import create
from blueprint.training import recipe
from tests.cli_errors import error_line
from tests.training_data import cifar_args, write_cifar10

COMMANDS = ("analyze", "bench", "demo", "evaluate", "export", "models", "predict", "profile", "train")


def exits(argv, code: int = 2) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == code


def test_help_and_argument_errors_import_neither_torch_nor_numba():
    argvs = [
        ["--help"],
        *([c, "--help"] for c in COMMANDS),
        ["bench", "layers", "--help"],
        ["bench", "training", "--help"],
        ["train", "--milestones", "10,abc"],
        ["train", "--epochs", "x"],
        ["train", "--dataset", "digits"],
        ["nosuch"],
    ]
    code = f"""
import contextlib, io, sys
from blueprint.cli import main
for argv in {argvs!r}:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print(sorted(m for m in ("torch", "numba", "accel", "matplotlib") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "argv, start",
    [
        (["train", "--milestones", "10,abc"], "blueprint train: error: --milestones: expected comma-separated epochs"),
        (["train", "--epochs", "x"], "blueprint train: error: --epochs: invalid int value: 'x'"),
        (["bench", "layers", "--repeats", "x"], "blueprint bench layers: error: --repeats: invalid int value"),
        (["analyze"], "blueprint analyze: error: the following arguments are required: MODEL"),
        (["train", "--dataset", "digits"], "blueprint train: error: --model: required for a new run"),
    ],
)
def test_argument_errors_are_one_line_with_exit_2(capsys, argv, start):
    exits(argv)
    assert error_line(capsys).startswith(start)


def test_library_errors_name_fields_and_the_command_line_names_flags(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"^lr: expected a finite value >= 0, got -1"):
        recipe("cifar10", lr=-1)
    with pytest.raises(ValueError, match=r"^batch_size: expected a positive int"):
        recipe("cifar10", batch_size=0)
    with pytest.raises(ValueError, match=r"^backend: accel runs on the CPU, got `device=cuda`; use `backend=torch`"):
        recipe("cifar10", backend="accel", device="cuda")
    for argv, start in (
        (["--lr", "-1"], "--lr: expected a finite value >= 0, got -1"),
        (["--batch-size", "0"], "--batch-size: expected a positive int"),
        (
            ["--backend", "accel", "--device", "cuda"],
            "--backend: accel runs on the CPU, got --device cuda; use --backend torch",
        ),
    ):
        argv = ["train", "--model", "cifar_tiny_cnn", "--output-dir", str(tmp_path), *argv]
        assert main(argv) == 2
        assert error_line(capsys).startswith(f"blueprint train: error: {start}")


def test_in_flags_maps_the_leading_name_and_quoted_arguments_of_the_command():
    flags = {"output_dir": "--output-dir", "resume": "--resume", "device": "--device"}
    text = "output_dir: x holds a run; pass `resume=True`, `device='cpu'` or another `output_dir`; `alpha` stays"
    assert (
        in_flags(text, flags)
        == "--output-dir: x holds a run; pass --resume, --device cpu or another --output-dir; `alpha` stays"
    )
    assert in_flags("source: no file", flags) == "source: no file"
    train = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    assert train.get_default("flags")["weight_decay"] == "--weight-decay"


def test_no_error_message_outside_the_command_line_names_a_flag():
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "blueprint"
    offenders = []
    for path in root.rglob("*.py"):
        if "commands" in path.parts or path.name == "cli.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"""(Error|raise|warn)\(.*["'`]--[a-z]""", line):
                offenders.append(f"{path.relative_to(root)}:{number}")
    assert offenders == []


def test_an_output_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    afile = tmp_path / "notes.txt"
    afile.write_text("not a folder")
    for argv in (
        ["train", "--dataset", "digits", "--model", "digits_cnn", "--output-dir", str(afile)],
        ["train", "--dataset", "digits", "--model", "digits_cnn", "--output-dir", str(afile / "run")],
        ["analyze", "cifar_tiny_cnn", "--output-dir", str(afile)],
        ["demo", "--quick", "--output-dir", str(afile)],
    ):
        assert main(argv) == 2
        line = error_line(capsys)
        assert line.startswith(f"blueprint {argv[0]}: error: --output-dir: ") and str(afile) in line and "file" in line


def test_profile_refuses_an_input_that_cannot_fit_before_allocating(capsys, monkeypatch):
    import blueprint.profiling as profiling

    model = torch.nn.Conv2d(3, 4, 3)
    monkeypatch.setattr(profiling, "available_bytes", lambda device: 4 * 3 * 32 * 32)
    assert profiling.profile(model, (3, 32, 32)).flops == 4 * 30 * 30 * 27  # exactly fits: runs
    with pytest.raises(ValueError, match=r"^input_size: \(1, 3, 32, 33\) in torch.float32 takes 0.00 GiB, more than"):
        profiling.profile(model, (3, 32, 33))
    monkeypatch.setattr(profiling, "available_bytes", lambda device: 2**30)  # also where 112 GiB are free
    assert main(["profile", "cifar_tiny_cnn", "--input-size", "3", "100000", "100000"]) == 2
    assert error_line(capsys).startswith(
        "blueprint profile: error: --input-size: (1, 3, 100000, 100000) in torch.float32"
    )


def test_analyze_says_a_zoo_name_has_random_weights_and_reads_the_model_a_checkpoint_names(tmp_path, capsys):
    assert main(["analyze", "cifar_tiny_cnn", "--output-dir", str(tmp_path / "a")]) == 0
    assert "a freshly initialized zoo model, its weights random (not trained)" in capsys.readouterr().out
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "run"))) == 0
    capsys.readouterr()
    assert main(["analyze", str(tmp_path / "run" / "last.pt"), "--output-dir", str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "weights of a cifar_tiny_cnn" in out and "stages by resolution" in out and "random" not in out


def test_a_mistyped_model_name_suggests_the_closest_names(capsys):
    with pytest.raises(
        ValueError, match=r"^model: unknown name 'cifar_resnet20_bsconv'; closest: cifar_resnet20_bsconvu"
    ):
        create("cifar_resnet20_bsconv")
    assert main(["analyze", "cifar_resnet20_bsconv"]) == 2
    assert "closest: cifar_resnet20_bsconvu" in error_line(capsys)
    assert main(["train", "--model", "cifar_resnet20_bsconv"]) == 2
    assert error_line(capsys).startswith(
        "blueprint train: error: --model: unknown name 'cifar_resnet20_bsconv'; closest: cifar_resnet20_bsconvu"
    )


def test_version_and_print_config_answer_without_running_anything(tmp_path, capsys):
    exits(["--version"], 0)
    assert capsys.readouterr().out.startswith("blueprint 0.")
    assert (
        main(
            [
                "train",
                "--dataset",
                "folder",
                "--model",
                "cifar_tiny_cnn",
                "--epochs",
                "3",
                "--print-config",
                "--output-dir",
                str(tmp_path / "run"),
            ]
        )
        == 0
    )
    config = json.loads(capsys.readouterr().out)
    assert (config["dataset"], config["epochs"], config["schedule"]) == ("folder", 3, "linear")
    assert not (tmp_path / "run").exists()


def test_every_training_field_has_a_flag_with_its_help_and_every_flag_is_a_field():
    import argparse
    import dataclasses

    from blueprint.training import TrainConfig

    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    options = {a.dest: a for a in train._actions if a.option_strings and a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    commands_own = {"resume", "overwrite", "print_config"}
    assert set(options) - commands_own == set(fields)
    for name, f in fields.items():
        assert options[name].help == f.metadata["help"] and options[name].default is None
        assert options[name].option_strings[0] == "--" + name.replace("_", "-")
