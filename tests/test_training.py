"""Training: the data pipeline's pieces against naive versions, and a run that resumes exactly."""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
import tarfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from blueprint.cli import main
from blueprint.training import cifar, recipe
from blueprint.training.checkpoint import atomic_save, load_checkpoint
from blueprint.training.config import TrainConfig
from blueprint.training.folder_data import FolderLoader
from blueprint.training.memory_data import channel_stats, shift_and_flip
from blueprint.training.metrics import COLUMNS
from blueprint.training.sampling import eval_order, train_order
from blueprint.training.schedule import learning_rate
from tests.training_data import cifar_args, folder_args, write_cifar10, write_image_folder


def shift_and_flip_naive(x, shifts, flips, pad):
    """The specification, one image at a time: zero-pad, cut the window moved by (dy, dx), then mirror."""
    H, W = x.shape[2:]
    out = []
    for b in range(len(x)):
        dy, dx = shifts[b].tolist()
        window = F.pad(x[b], (pad,) * 4)[:, pad + dy : pad + dy + H, pad + dx : pad + dx + W]
        out.append(window.flip(-1) if flips[b] else window)
    return torch.stack(out)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**16), pad=st.integers(0, 4), flip=st.booleans())
def test_shift_and_flip_matches_the_per_image_window(seed, pad, flip):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 3, 6, 7, generator=g)
    shifts = torch.randint(-pad, pad + 1, (5, 2), generator=g)
    flips = (torch.rand(5, generator=g) < 0.5) & flip
    assert torch.equal(shift_and_flip(x, shifts, flips, pad), shift_and_flip_naive(x, shifts, flips, pad))


@pytest.mark.parametrize("world", [1, 2, 3])
def test_train_order_shards_one_padded_permutation(world):
    n = 10
    shards = [train_order(n, seed=7, epoch=3, rank=r, world=world) for r in range(world)]
    assert len({len(s) for s in shards}) == 1 and sum(map(len, shards)) == -(-n // world) * world
    assert set(torch.cat(shards).tolist()) == set(range(n))
    assert torch.equal(train_order(n, 7, 3), train_order(n, 7, 3))
    assert not torch.equal(train_order(n, 7, 3), train_order(n, 7, 4))
    assert sorted(torch.cat([eval_order(n, r, world) for r in range(world)]).tolist()) == list(range(n))


def test_linear_schedule_reaches_zero_after_the_last_epoch():
    assert [learning_rate("linear", 1.0, e, 4) for e in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert [learning_rate("step", 1.0, e, 4, [1, 3], 0.5) for e in range(4)] == [1.0, 0.5, 0.5, 0.25]


def test_cifar_reader_keeps_the_on_disk_layout(tmp_path):
    root = write_cifar10(tmp_path)
    data = cifar.load_cifar("cifar10", str(root))
    assert data.x_train.shape == (64, 3, 32, 32) and data.x_train.dtype == torch.uint8 and data.x_test.shape[0] == 32
    with open(root / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="bytes")
    # row = 1024 red, 1024 green, 1024 blue values, each a row-major 32x32 image
    assert np.array_equal(data.x_train[0, 1].numpy().ravel(), raw[b"data"][0, 1024:2048])
    assert torch.equal(cifar.load_cifar("cifar10", str(root / "cifar-10-batches-py")).y_test, data.y_test)
    assert data.classes == tuple(f"class{i}" for i in range(10))  # from batches.meta, recorded in the checkpoints


def test_recipes_follow_section_5():
    c10, imagenet, dogs = recipe("cifar10"), recipe("imagenet"), recipe("dogs")
    assert (c10.epochs, c10.lr, c10.momentum, c10.weight_decay) == (200, 0.1, 0.9, 1e-4)
    assert (c10.schedule, c10.milestones, c10.lr_decay, c10.alpha) == ("step", [100, 150, 180], 0.1, 0.01)
    assert (c10.flip, c10.shift) == (True, 4)
    assert (imagenet.epochs, imagenet.milestones, imagenet.alpha, imagenet.resize) == (100, [30, 60, 90], 0.1, 256)
    assert imagenet.scale_min > 0 and imagenet.color_jitter > 0 and imagenet.flip
    assert (dogs.epochs, dogs.schedule, dogs.scale_min, dogs.color_jitter) == (100, "linear", 0.0, 0.0)
    assert dogs.gamma > 0 and dogs.flip
    assert recipe("cifar100", lr=0.05).lr == 0.05


def run_cli(*argv):
    assert main(list(argv)) == 0


def tiny_cifar_run(data_dir, out, epochs, *extra):
    schedule = ("--milestones", "2", "--lr", "0.05")
    run_cli(*cifar_args(data_dir, out, *schedule, *extra, model="cifar_tiny_cnn_bsconvs_p1d2", epochs=epochs))


def test_resume_after_two_epochs_equals_an_uninterrupted_run(tmp_path):
    data = write_cifar10(tmp_path / "data")
    tiny_cifar_run(data, tmp_path / "straight", 3)
    tiny_cifar_run(data, tmp_path / "resumed", 2)
    first = load_checkpoint(str(tmp_path / "resumed" / "last.pt"))
    run_cli("train", "--resume", "--output-dir", str(tmp_path / "resumed"), "--epochs", "3")
    a, b = (load_checkpoint(str(tmp_path / run / "last.pt")) for run in ("straight", "resumed"))
    assert first["epoch"] == 2 and a["epoch"] == b["epoch"] == 3
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    assert a["optimizer"]["state"].keys() == b["optimizer"]["state"].keys()
    assert all(
        torch.equal(a["optimizer"]["state"][k]["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
        for k in a["optimizer"]["state"]
    )
    with open(tmp_path / "resumed" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.05, 0.05, 0.005])
    assert float(rows[0]["ortho_loss"]) > 0  # BSConv-S: Eq. (9) is part of the loss
    assert [r["train_loss"] for r in rows] == [f"{r['train_loss']:.6g}" for r in a["history"]]
    config = json.loads((tmp_path / "resumed" / "config.json").read_text())
    assert config["epochs"] == 3 and config["model"] == "cifar_tiny_cnn_bsconvs_p1d2" and config["batch_size"] == 16
    assert (tmp_path / "resumed" / "best.pt").is_file() and (tmp_path / "resumed" / "curves.png").stat().st_size > 0
    assert not list((tmp_path / "resumed").glob(".*.tmp"))


def test_evaluate_reproduces_the_last_test_accuracy(tmp_path, capsys):
    data = write_cifar10(tmp_path / "data")
    tiny_cifar_run(data, tmp_path / "run", 1)
    history = load_checkpoint(str(tmp_path / "run" / "last.pt"))["history"]
    capsys.readouterr()
    run_cli("evaluate", str(tmp_path / "run" / "last.pt"))
    assert f"accuracy {history[-1]['test_acc']:.2%}" in capsys.readouterr().out


def test_image_folder_augmentation_is_deterministic_and_cropped(tmp_path):
    root = write_image_folder(tmp_path)
    config = TrainConfig(
        dataset="dogs", data_dir=str(root), resize=8, crop=6, gamma=0.3, color_jitter=0.2, workers=0, batch_size=3
    )
    loader = FolderLoader(config, "cpu", batch_size=3)
    assert (loader.num_classes, loader.num_train, loader.num_test, loader.input_size) == (2, 8, 4, (3, 6, 6))
    first = [x for x, _ in loader.train_batches(epoch=0)]
    again = [x for x, _ in loader.train_batches(epoch=0)]
    assert [x.shape[0] for x in first] == [3, 3, 2] and first[0].shape[1:] == (3, 6, 6)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    inception = FolderLoader(
        TrainConfig(dataset="imagenet", data_dir=str(root), resize=8, crop=6, scale_min=0.3, workers=0),
        "cpu",
        batch_size=8,
    )
    x, y = next(inception.train_batches(epoch=1))
    assert x.shape == (8, 3, 6, 6) and sorted(y.tolist()) == [0] * 4 + [1] * 4


def test_image_folder_run_trains_and_writes_metrics(tmp_path):
    root = write_image_folder(tmp_path / "data")
    run_cli(*folder_args("flowers", root, tmp_path / "out"))
    assert len((tmp_path / "out" / "metrics.csv").read_text().splitlines()) == 2


def test_atomic_save_keeps_the_old_checkpoint_when_writing_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "last.pt")
    atomic_save({"model": {"w": torch.zeros(2)}}, path)
    before = (tmp_path / "last.pt").read_bytes()

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # the run is killed while writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"model": {"w": torch.ones(2)}}, path)
    assert (tmp_path / "last.pt").read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_download_fetches_checks_and_extracts_the_archive(tmp_path, monkeypatch):
    source = write_cifar10(tmp_path / "source")
    archive = tmp_path / "mirror" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(cifar, "URL", archive.parent.as_uri() + "/")
    monkeypatch.setitem(cifar.LAYOUTS, "cifar10", (*cifar.LAYOUTS["cifar10"][:-1], md5))
    cifar.download("cifar10", str(tmp_path / "data"))
    assert torch.equal(
        cifar.load_cifar("cifar10", str(tmp_path / "data")).y_train, cifar.load_cifar("cifar10", str(source)).y_train
    )
    monkeypatch.setitem(cifar.LAYOUTS, "cifar10", (*cifar.LAYOUTS["cifar10"][:-1], "0" * 32))
    with pytest.raises(ValueError, match="has MD5"):
        cifar.download("cifar10", str(tmp_path / "elsewhere"))


def test_channel_stats_match_torch_mean_and_std():
    x = torch.randint(0, 256, (10, 3, 4, 5), dtype=torch.uint8)
    mean, std = channel_stats(x, 255.0, chunk=3)
    pixels = x.double() / 255
    assert torch.allclose(mean, pixels.mean(dim=(0, 2, 3)))
    assert torch.allclose(std, pixels.std(dim=(0, 2, 3), correction=0))


def test_accel_backend_trains_like_the_torch_backend(tmp_path):
    """--backend accel runs the BSConv layers on the fused Numba kernels: the same training, to rounding."""
    data = write_cifar10(tmp_path / "data")
    runs = {}
    for backend in ("torch", "accel"):
        run_cli(*cifar_args(data, tmp_path / backend, "--backend", backend, model="cifar_tiny_cnn_bsconvu"))
        runs[backend] = load_checkpoint(str(tmp_path / backend / "last.pt"))
    assert runs["accel"]["config"]["backend"] == "accel"
    for key, value in runs["torch"]["model"].items():
        torch.testing.assert_close(runs["accel"]["model"][key], value, rtol=1e-3, atol=1e-4, msg=key)


def test_accel_backend_is_refused_off_the_cpu():
    with pytest.raises(ValueError, match="^backend: accel runs on the CPU, got `device=cuda`"):
        TrainConfig(model="digits_cnn", device="cuda", backend="accel").validate()
    with pytest.raises(ValueError, match="^backend: expected one of torch, accel, got 'numba'"):
        TrainConfig(model="digits_cnn", backend="numba").validate()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -0.1])
def test_learning_rate_must_be_finite_and_non_negative(value):
    with pytest.raises(ValueError, match="^lr: expected a finite value >= 0, got"):
        TrainConfig(model="digits_cnn", lr=value).validate()
