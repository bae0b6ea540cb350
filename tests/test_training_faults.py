"""Faults during a run: a poisoned model, SIGTERM, Ctrl-C and a failing disk end it in one line, a non-zero exit
and a folder whose last good checkpoint is intact; a run shows it is alive also off a terminal."""

from __future__ import annotations

import errno
import os
import signal

import pytest
import torch

import blueprint.training.loop as loop
from blueprint import progress as progress_module
from blueprint.cli import main
from blueprint.training import TrainingError, fit, load_checkpoint, recipe
from tests.cli_errors import error_line
from tests.training_data import cifar_args, write_cifar10


@pytest.fixture
def one_epoch(tmp_path, capsys):
    """A run of one good epoch in tmp_path/out; returns (out, {file: bytes}) of its checkpoints."""
    data = write_cifar10(tmp_path / "data")
    out = tmp_path / "out"
    assert main(list(cifar_args(data, out))) == 0
    capsys.readouterr()
    return out, {name: (out / name).read_bytes() for name in ("last.pt", "best.pt")}


def resume(out, epochs=2):
    return main(["train", "--resume", "--output-dir", str(out), "--epochs", str(epochs)])


def assert_untouched(out, saved):
    assert {name: (out / name).read_bytes() for name in saved} == saved
    assert not list(out.glob("*.tmp"))


def test_a_non_finite_buffer_stops_the_run_before_it_is_saved(one_epoch, capsys, monkeypatch):
    out, saved = one_epoch
    real = loop.evaluate

    def poison(model, *args, **kwargs):  # BatchNorm statistics overflow in epoch 2, the loss stays finite
        name = next(n for n, _ in model.named_buffers() if n.endswith("running_var"))
        model.get_buffer(name).fill_(float("inf"))
        return real(model, *args, **kwargs)

    monkeypatch.setattr(loop, "evaluate", poison)
    assert resume(out) == 1
    line = error_line(capsys)
    assert line.startswith("blueprint train: error: features.") and "running_var holds non-finite values" in line
    assert "after epoch 2" in line and "last.pt holds epoch 1, untouched" in line and "lower --lr or --alpha" in line
    assert_untouched(out, saved)


def test_a_nan_test_loss_stops_the_run_before_it_is_saved(one_epoch, capsys, monkeypatch):
    out, saved = one_epoch
    monkeypatch.setattr(loop, "evaluate", lambda *args, **kwargs: (float("nan"), 0.5))
    assert resume(out) == 1
    assert "the test loss is nan after epoch 2" in error_line(capsys)
    assert_untouched(out, saved)


def test_a_learning_rate_that_blows_the_weights_up_writes_no_checkpoint(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out", "--lr", "1e6"))) == 1
    assert "holds non-finite values after epoch 1" in error_line(capsys)
    assert not (tmp_path / "out" / "last.pt").exists() and not (tmp_path / "out" / "best.pt").exists()


def kill_after_first_epoch(monkeypatch, raise_instead=None):
    real = loop.plot_curves

    def plot_then_stop(*args, **kwargs):  # the last thing an epoch writes
        real(*args, **kwargs)
        if raise_instead is not None:
            raise raise_instead
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(loop, "plot_curves", plot_then_stop)


def test_sigterm_stops_like_ctrl_c_keeps_last_pt_and_the_curves_and_says_how_to_resume(tmp_path, capsys, monkeypatch):
    data = write_cifar10(tmp_path / "data")
    out = tmp_path / "out"
    kill_after_first_epoch(monkeypatch)
    assert main(list(cifar_args(data, out, "--epochs", "3"))) == 143
    line = error_line(capsys)
    assert line.startswith("blueprint train: terminated (SIGTERM);")
    assert f"{out / 'last.pt'} holds epoch 1; continue with --resume and --output-dir {out}" in line
    assert load_checkpoint(str(out / "last.pt"))["epoch"] == 1 and (out / "curves.png").exists()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the command line's handler is gone again
    monkeypatch.undo()
    assert resume(out, epochs=2) == 0


def test_ctrl_c_says_how_to_resume(tmp_path, capsys, monkeypatch):
    data = write_cifar10(tmp_path / "data")
    kill_after_first_epoch(monkeypatch, raise_instead=KeyboardInterrupt())
    assert main(list(cifar_args(data, tmp_path / "out", "--epochs", "3"))) == 130
    line = error_line(capsys)
    assert line.startswith("blueprint train: interrupted;") and "holds epoch 1; continue with --resume" in line


def test_ctrl_c_from_python_names_the_arguments(tmp_path, monkeypatch):
    config = recipe(
        "cifar10",
        model="cifar_tiny_cnn",
        data_dir=str(write_cifar10(tmp_path / "data")),
        epochs=3,
        batch_size=16,
        threads=1,
        output_dir=str(tmp_path / "out"),
    )
    kill_after_first_epoch(monkeypatch, raise_instead=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt, match="continue with `resume=True` and `output_dir="):
        fit(config, log=lambda _: None)


def test_a_full_disk_at_the_checkpoint_keeps_the_previous_last_pt_in_one_line(one_epoch, capsys, monkeypatch):
    out, saved = one_epoch
    import blueprint.training.checkpoint as checkpoint

    def full(obj, f):
        f.write(b"part of a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(checkpoint.torch, "save", full)
    assert resume(out) == 1
    line = error_line(capsys)
    assert line == (
        f"blueprint train: error: cannot write {out / 'last.pt'} (No space left on device); "
        f"the previous one is untouched"
    )
    assert_untouched(out, saved)


def test_training_error_is_a_floating_point_error_not_a_bad_argument():
    assert issubclass(TrainingError, FloatingPointError) and not issubclass(TrainingError, ValueError)


def test_the_header_names_backend_device_threads_and_speed_switches(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out"))) == 0
    header = capsys.readouterr().out.splitlines()[0]
    for part in ("on cpu", "backend torch", "1 CPU thread(s)", "AMP off", "channels-last off", "compile off"):
        assert part in header, header


def test_progress_is_written_as_lines_off_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "LINE_INTERVAL_S", 0.0)
    data = write_cifar10(tmp_path / "data")
    assert main(list(cifar_args(data, tmp_path / "out"))) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("epoch 1/1:") for line in lines), lines
    assert lines[-1].split("|")[2].strip().startswith("4/4") and "\r" not in "".join(lines)
    assert any(" loss " in line and " acc " in line for line in lines)


def test_curves_use_plain_tick_labels_and_whole_epochs(tmp_path):
    from blueprint.training.metrics import plot_curves

    history = [
        dict(epoch=e, train_loss=loss, test_loss=1.1 * loss, train_acc=0.5, test_acc=0.4)
        for e, loss in ((1, 2.65), (2, 2.4))
    ]
    fig = plot_curves({"m": history}, str(tmp_path / "c.png"))
    loss_ax, acc_ax = fig.axes
    fig.canvas.draw()
    labels = [t.get_text() for t in loss_ax.get_yticklabels() + loss_ax.get_yticklabels(minor=True)]
    assert any(labels) and not any("10^" in t or "times" in t or "\\" in t for t in labels), labels
    for ax in (loss_ax, acc_ax):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_the_slice_figure_numbers_filter_and_slices_from_zero(tmp_path):
    from blueprint.analysis import plot_kernel_slices

    fig = plot_kernel_slices(torch.randn(4, 3, 3, 3).numpy(), 2, tmp_path / "s.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title().startswith("slice")]
    assert titles == ["slice m=0", "slice m=1", "slice m=2"]
    assert "filter n=2" in fig._suptitle.get_text() and "0-based" in fig._suptitle.get_text()


@pytest.mark.parametrize("every, plots", [(0.0, [1, 2, 3]), (1e9, [1, 3])])
def test_curves_follow_the_first_and_last_epoch_and_every_interval_between(tmp_path, monkeypatch, every, plots):
    data = write_cifar10(tmp_path / "data")
    drawn = []
    monkeypatch.setattr(loop, "CURVES_EVERY_S", every)
    monkeypatch.setattr(loop, "plot_curves", lambda runs, *a: drawn.append(len(next(iter(runs.values())))))
    assert main(list(cifar_args(data, tmp_path / "out", "--epochs", "3"))) == 0
    assert drawn == plots  # epochs in the history at each plot
