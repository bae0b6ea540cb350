"""Tiny data sets written in the real on-disk formats, for the training tests."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def write_cifar10(root: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/`` as the CIFAR-10 "python version": five training pickles and test_batch.

    Each class gets its own mean color, so that a tiny model learns something in a few epochs.
    """
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)

    def batch(n, label):
        labels = rng.integers(0, 10, n)
        base = (labels[:, None] * 25).astype(np.int64)  # B,1
        data = np.clip(base + rng.integers(0, 60, (n, 3072)), 0, 255).astype(np.uint8)  # B,3072
        return {
            b"batch_label": label.encode(),
            b"labels": labels.tolist(),
            b"data": data,
            b"filenames": [f"img{i}.png".encode() for i in range(n)],
        }

    sizes = np.diff(np.linspace(0, n_train, 6).astype(int))
    for i, size in enumerate(sizes, 1):
        with open(folder / f"data_batch_{i}", "wb") as f:
            pickle.dump(batch(size, f"training batch {i} of 5"), f, protocol=2)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump(batch(n_test, "testing batch 1 of 1"), f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [f"class{i}".encode() for i in range(10)]}, f, protocol=2)
    return root


def write_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 4, size=(14, 10)) -> Path:
    """``root/train/CLASS/*.png`` and ``root/val/CLASS/*.png`` with small RGB images."""
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("val", per_class // 2)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(80 * c + rng.integers(0, 100, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


def cifar_args(data_dir, out, *extra, model: str = "cifar_tiny_cnn", epochs: int = 1) -> tuple:
    """``blueprint train`` arguments for a run of ``epochs`` (batches of 16, one thread) of a tiny CIFAR CNN on
    ``data_dir``, into ``out``."""
    args = ("--data-dir", str(data_dir), "--model", model, "--epochs", str(epochs), "--batch-size", "16")
    return ("train", "--dataset", "cifar10", *args, "--threads", "1", "--output-dir", str(out), *extra)


def digits_args(out, *extra, model: str = "digits_cnn", epochs: int = 1) -> tuple:
    """``blueprint train`` arguments for a run of ``epochs`` of ``model`` on the digits, into ``out``."""
    return ("train", "--dataset", "digits", "--model", model, "--epochs", str(epochs), "--output-dir", str(out), *extra)


def folder_args(dataset: str, data_dir, out, *extra, model: str = "cifar_tiny_cnn") -> tuple:
    """``blueprint train`` arguments for a one-epoch run of a tiny CNN on an image folder (8 x 8 crops, batches
    of 4, no loader processes unless ``extra`` asks for some), into ``out``."""
    args = ("--data-dir", str(data_dir), "--model", model, "--epochs", "1", "--batch-size", "4")
    sizes = ("--resize", "8", "--crop", "8", "--workers", "0")
    return ("train", "--dataset", dataset, *args, *sizes, "--output-dir", str(out), *extra)


def torchrun_train(*args, timeout: int = 240) -> str:
    """``blueprint train ARGS`` in two ``torchrun`` processes (one thread each); its standard output, after
    asserting that it succeeded."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += ["-m", "blueprint.cli", "train", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout
