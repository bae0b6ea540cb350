"""``blueprint.paths``: every file is written to a temporary name and renamed, so a full disk during training,
export or analyze costs no file (the previous one stays) and is told in one line, its errno found along the
exception chain; and an interrupted first epoch, which wrote no checkpoint, advises a new run, not a resume."""

from __future__ import annotations

import errno
import io

import pytest

import blueprint.paths as paths
from blueprint.cli import main
from blueprint.training import load_checkpoint
from tests.cli_errors import error_line
from tests.training_data import digits_args


@pytest.fixture
def full_disk(monkeypatch):
    """Every file that ``blueprint.paths.atomic_write`` opens refuses its first byte with ENOSPC, as a full disk
    does (torch's zip writer then raises a RuntimeError while handling the OSError)."""

    class Full(io.FileIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    def fill():
        monkeypatch.setattr(paths, "open", lambda path, mode="r": Full(path, "wb"), raising=False)

    return fill


def digits(out, epochs, *extra) -> int:
    return main(list(digits_args(out, *extra, epochs=epochs)))


def test_errno_is_found_along_the_exception_chain():
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 126272 vs 126168")
    except RuntimeError as err:
        assert paths.errno_of(err) == errno.EDQUOT
    assert paths.errno_of(ValueError("no errno")) is None


def test_a_full_disk_during_training_is_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys, full_disk):
    assert digits(tmp_path / "run", 1) == 0
    before = (tmp_path / "run" / "last.pt").read_bytes()
    capsys.readouterr()
    full_disk()
    assert main(["train", "--resume", "--output-dir", str(tmp_path / "run"), "--epochs", "2"]) == 1
    line = error_line(capsys)
    assert line.startswith("blueprint train: error: cannot write ") and "(No space left on device)" in line
    assert "untouched" in line
    assert (tmp_path / "run" / "last.pt").read_bytes() == before
    assert load_checkpoint(str(tmp_path / "run" / "last.pt"))["epoch"] == 1
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_a_full_disk_during_export_keeps_the_previous_onnx_file(tmp_path, capsys, full_disk):
    onnx = tmp_path / "model.onnx"
    assert main(["export", "digits_cnn", "--onnx", str(onnx)]) == 0
    before = onnx.read_bytes()
    capsys.readouterr()
    full_disk()
    assert main(["export", "digits_cnn", "--onnx", str(onnx)]) == 1
    line = error_line(capsys)
    assert f"cannot write {onnx} (No space left on device); the previous one is untouched" in line
    assert onnx.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_during_analyze_leaves_no_empty_figure(tmp_path, capsys, full_disk):
    full_disk()
    assert main(["analyze", "digits_cnn", "--output-dir", str(tmp_path)]) == 1
    assert "(No space left on device); nothing was written" in error_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_first_epoch_advises_a_new_run_not_a_resume(tmp_path, capsys, monkeypatch):
    from blueprint.training import loop

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "train_epoch", interrupted)
    assert digits(tmp_path / "run", 2) == 130
    line = error_line(capsys)
    assert "no epoch was saved" in line and "--resume" not in line and "run the same command again" in line
