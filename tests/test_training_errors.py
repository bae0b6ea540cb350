"""Bad input and faults: one clear line naming the cause, exit code 2, no traceback, no half-written file."""

from __future__ import annotations

import pytest

from blueprint.cli import main
from tests.cli_errors import error_line
from tests.training_data import cifar_args, digits_args, folder_args, write_cifar10, write_image_folder


def fails(capsys, *argv, code: int = 2) -> str:
    """Run the command line; assert it failed cleanly (exit ``code``) and return its single error line."""
    assert main(list(argv)) == code
    return error_line(capsys)


def test_missing_cifar_folder_names_the_expected_files(tmp_path, capsys):
    line = fails(capsys, *cifar_args(tmp_path / "nowhere", tmp_path / "out"))
    assert "cifar-10-batches-py" in line and "data_batch_1" in line and "--download" in line


def test_malformed_cifar_file_is_named(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    (data / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
    assert "data_batch_3 is not a CIFAR pickle" in fails(capsys, *cifar_args(data, tmp_path / "out"))


def test_cifar_file_of_the_wrong_shape_is_named(tmp_path, capsys):
    import pickle

    import numpy as np

    data = write_cifar10(tmp_path / "data")
    with open(data / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}, f)
    assert "test_batch: expected uint8 data of shape (B, 3072)" in fails(capsys, *cifar_args(data, tmp_path / "out"))


def test_download_without_internet_is_a_clean_error(tmp_path, capsys, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlretrieve", offline)
    line = fails(capsys, *cifar_args(tmp_path / "data", tmp_path / "out", "--download"))
    assert "--download: cannot fetch" in line and "no network" in line


def test_image_folder_without_class_folders(tmp_path, capsys):
    (tmp_path / "data" / "train").mkdir(parents=True)
    line = fails(capsys, *folder_args("dogs", tmp_path / "data", tmp_path / "out"))
    assert "holds no images in class folders" in line


def test_unreadable_image_is_named_also_from_a_worker_process(tmp_path, capsys):
    data = write_image_folder(tmp_path / "data")
    (data / "train" / "dog" / "2.png").write_bytes(b"not an image")
    line = fails(capsys, *folder_args("flowers", data, tmp_path / "out", "--workers", "1"))
    assert line.startswith("blueprint train: error: --data-dir:") and "2.png is not a readable image" in line


def test_unknown_model(tmp_path, capsys):
    data = write_image_folder(tmp_path / "data")
    line = fails(capsys, *folder_args("cars", data, tmp_path / "out", model="no_such_net"))
    assert "unknown name 'no_such_net'" in line


def test_unknown_model_is_named_before_any_data_is_read(tmp_path, capsys):
    line = fails(
        capsys,
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        str(tmp_path / "nothing"),
        "--model",
        "no_such_net",
        "--output-dir",
        str(tmp_path / "out"),
    )
    assert line.startswith("blueprint train: error: --model: unknown name 'no_such_net'")


def test_model_that_cannot_take_the_images(tmp_path, capsys):
    line = fails(capsys, "demo", "--quick", "--models", "cifar_tiny_cnn", "--output-dir", str(tmp_path))
    assert "--models: cifar_tiny_cnn cannot take the 1x8x8 images of digits" in line


def test_checkpoint_that_does_not_fit_the_model(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out"))) == 0
    line = fails(capsys, "evaluate", str(tmp_path / "out" / "last.pt"), "--model", "cifar_tiny_cnn_bsconvu")
    assert "does not fit the model" in line and "missing keys" in line
    line = fails(
        capsys,
        "train",
        "--resume",
        "--output-dir",
        str(tmp_path / "out"),
        "--epochs",
        "2",
        "--model",
        "cifar_tiny_cnn_bsconvu",
    )
    assert line.startswith("blueprint train: error: --resume:") and "does not fit the model" in line


def test_unreadable_checkpoint_and_missing_run(tmp_path, capsys):
    (tmp_path / "broken.pt").write_bytes(b"\x00" * 10)
    assert "MODEL: cannot read" in fails(capsys, "evaluate", str(tmp_path / "broken.pt"))
    assert "--resume: no run to resume" in fails(capsys, "train", "--resume", "--output-dir", str(tmp_path / "none"))


def test_existing_run_is_not_overwritten_silently(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out"))) == 0
    assert "already holds a run" in fails(capsys, *cifar_args(data, tmp_path / "out"))


def test_nan_loss_stops_with_the_epoch_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out", model="cifar_tiny_cnn_bsconvs_p1d2"))) == 0
    before = (tmp_path / "out" / "last.pt").read_bytes()
    # an orthonormal-loss weight that overflows float32: the loss is inf in epoch 2
    line = fails(
        capsys, "train", "--resume", "--output-dir", str(tmp_path / "out"), "--epochs", "2", "--alpha", "1e39", code=1
    )
    assert "not finite" in line and "epoch 2" in line
    assert (tmp_path / "out" / "last.pt").read_bytes() == before and not list((tmp_path / "out").glob("*.tmp"))


def test_resume_refuses_to_change_the_optimizer(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out"))) == 0
    line = fails(capsys, "train", "--resume", "--output-dir", str(tmp_path / "out"), "--epochs", "2", "--lr", "0.5")
    assert "--lr (was 0.1) cannot change in a resumed run" in line


@pytest.mark.parametrize(
    "flag, value", [("--epochs", "0"), ("--schedule", "cosine"), ("--lr", "-1"), ("--dataset", "mnist")]
)
def test_bad_configuration_values_are_named(tmp_path, capsys, flag, value):
    line = fails(capsys, *cifar_args(tmp_path, tmp_path / "out", flag, value))
    assert flag in line and value in line


@pytest.mark.parametrize(
    "flags, said",
    [
        (["--milestones", "50"], "warning: milestones 50 lie at or after the last epoch (1)"),
        (["--batch-size", "100000"], "warning: batch_size 100000 exceeds the 1347 training images"),
        (["--amp"], "warning: amp on the CPU runs bfloat16 kernels"),
        (["--backend", "accel"], "note: backend accel: the first step compiles the Numba kernels"),
    ],
)
def test_accepted_but_doubtful_values_are_told_in_one_line_before_the_first_epoch(tmp_path, capsys, flags, said):
    schedule = ["--schedule", "step"] if "--milestones" in flags else []
    assert main(list(digits_args(tmp_path, "--device", "cpu", *schedule, *flags))) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(said), lines[:3]


@pytest.mark.parametrize(
    "argv, said",
    [
        (
            ["train", "--dataset", "digits", "--model", "digits_cnn", "--seed", "-5"],
            "blueprint train: error: --seed: expected an int in [0, 2**32 - 1], got -5",
        ),
        (["demo", "--seed", "-5"], "blueprint demo: error: --seed: expected an int in [0, 2**32 - 1], got -5"),
        (["verify", "--seed", "-1"], "blueprint verify: error: --seed: expected an int in [0, 2**32 - 1], got -1"),
        (
            ["train", "--dataset", "digits", "--model", "digits_cnn", "--momentum", "1.5"],
            "blueprint train: error: --momentum: expected a value in [0, 1)",
        ),
    ],
)
def test_a_seed_or_momentum_out_of_range_is_one_line_naming_the_flag(tmp_path, capsys, argv, said):
    assert main([*argv, *(["--output-dir", str(tmp_path)] if argv[0] != "verify" else [])]) == 2
    out, err = capsys.readouterr()
    assert err.strip().startswith(said) and len(err.strip().splitlines()) == 1 and out == ""
