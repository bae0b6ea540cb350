"""CIFAR-10/100 in their own distributed format (the "python version" of https://www.cs.toronto.edu/~kriz/cifar.html).

``DATA_DIR/cifar-10-batches-py/{data_batch_1..5, test_batch}`` and ``DATA_DIR/cifar-100-python/{train, test}``
are pickled dicts with ``b"data"`` (B, 3072) uint8 rows (1024 red, 1024 green, 1024 blue, row-major 32x32)
and ``b"labels"`` (CIFAR-10) or ``b"fine_labels"`` (CIFAR-100). Reading a pickle can run code: use files
from a source you trust. ``download`` fetches and checks the archive with urllib.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import urllib.error
import urllib.request

import numpy as np
import torch

from blueprint.training.memory_data import TensorDataset

URL = "https://www.cs.toronto.edu/~kriz/"
# name -> (folder, training files, test file, label key, classes, archive, archive md5)
LAYOUTS = {
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        b"labels",
        10,
        "cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a",
    ),
    "cifar100": (
        "cifar-100-python",
        ["train"],
        "test",
        b"fine_labels",
        100,
        "cifar-100-python.tar.gz",
        "eb9058c3a382ffc7106e4002c42a8d85",
    ),
}


def _folder(name: str, data_dir: str) -> str:
    """``data_dir`` itself if it is the CIFAR folder, else the folder inside it."""
    folder = LAYOUTS[name][0]
    return data_dir if os.path.basename(os.path.normpath(data_dir)) == folder else os.path.join(data_dir, folder)


def read_batch(path: str, label_key: bytes, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One pickled CIFAR file -> images uint8 (B, 3, 32, 32), labels int64 (B,); malformed files raise ValueError."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise ValueError(f"data_dir: {path} is not a CIFAR pickle ({type(err).__name__}: {err})") from None
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch)[:6] if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"data_dir: {path}: expected a dict with b'data' and {label_key!r}, got {keys}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[label_key])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (len(data),):
        raise ValueError(
            f"data_dir: {path}: expected uint8 data of shape (B, 3072) and B labels, got {data.dtype} "
            f"{data.shape} and labels of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"data_dir: {path}: labels must lie in [0, {num_classes}), got {labels.min()}..{labels.max()}")
    images = torch.from_numpy(data.reshape(-1, 3, 32, 32).copy())  # B,3,32,32
    return images, torch.from_numpy(labels.astype(np.int64))


def load_cifar(name: str, data_dir: str) -> TensorDataset:
    """CIFAR-10 (``name="cifar10"``) or CIFAR-100 from ``data_dir`` (the parent of the CIFAR folder, or the folder)."""
    folder_name, train_files, test_file, label_key, num_classes, archive, _ = LAYOUTS[name]
    folder = _folder(name, data_dir)
    missing = [f for f in [*train_files, test_file] if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise FileNotFoundError(
            f"data_dir: no {name} data at {folder} (missing {', '.join(missing)}); expected the extracted "
            f"{URL}{archive} ({folder_name}/), or pass `download=True`"
        )
    train = [read_batch(os.path.join(folder, f), label_key, num_classes) for f in train_files]
    x_test, y_test = read_batch(os.path.join(folder, test_file), label_key, num_classes)
    x_train, y_train = torch.cat([x for x, _ in train]), torch.cat([y for _, y in train])
    return TensorDataset(
        x_train, y_train, x_test, y_test, num_classes=num_classes, scale=255.0, classes=class_names(name, folder)
    )


# name -> (the file of the class names, their key)
META = {"cifar10": ("batches.meta", b"label_names"), "cifar100": ("meta", b"fine_label_names")}


def class_names(name: str, folder: str) -> tuple[str, ...] | None:
    """The class names in the CIFAR folder's meta file, or None where it is missing or holds none that fit."""
    file, key = META[name]
    try:
        with open(os.path.join(folder, file), "rb") as f:
            names = pickle.load(f, encoding="bytes").get(key)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError):
        return None
    fits = isinstance(names, list) and len(names) == LAYOUTS[name][4]
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names) if fits else None


def download(name: str, data_dir: str) -> None:
    """Fetch ``name``'s archive into ``data_dir``, check its MD5 and extract it (nothing to do if already there)."""
    folder_name, train_files, test_file, _, _, archive, md5 = LAYOUTS[name]
    folder = _folder(name, data_dir)
    if all(os.path.isfile(os.path.join(folder, f)) for f in [*train_files, test_file]):
        return
    os.makedirs(data_dir, exist_ok=True)
    target = os.path.join(data_dir, archive)
    try:
        urllib.request.urlretrieve(URL + archive, target + ".part")
    except (urllib.error.URLError, OSError) as err:
        raise ValueError(
            f"download: cannot fetch {URL}{archive} ({getattr(err, 'reason', err)}); download it by hand and "
            f"extract it into {data_dir}"
        ) from None
    with open(target + ".part", "rb") as f:
        digest = hashlib.md5(f.read()).hexdigest()
    if digest != md5:
        os.remove(target + ".part")
        raise ValueError(f"download: {URL}{archive} has MD5 {digest}, expected {md5}; try again")
    os.replace(target + ".part", target)
    with tarfile.open(target) as tar:
        # the 'data' filter refuses absolute paths and links out of data_dir (Python >= 3.10.12)
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(data_dir, **safe)
