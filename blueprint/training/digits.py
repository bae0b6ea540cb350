"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes, no download): the demo's data set."""

from __future__ import annotations

import numpy as np
import torch

from blueprint.training.memory_data import TensorDataset


def load_digits(test_fraction: float = 0.25, split_seed: int = 0) -> TensorDataset:
    """The digits as uint8 (B, 1, 8, 8) images of intensity 0..16, split once (fixed ``split_seed``) into
    train and test, stratified by class so that both hold every digit in proportion."""
    from sklearn.datasets import load_digits as sklearn_digits

    data = sklearn_digits()
    images = data.images.astype(np.uint8)[:, None]  # B,1,8,8
    labels = data.target.astype(np.int64)
    rng = np.random.default_rng(split_seed)
    test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test[members[: int(round(test_fraction * len(members)))]] = True
    t = torch.from_numpy
    return TensorDataset(
        t(images[~test]),
        t(labels[~test]),
        t(images[test]),
        t(labels[test]),
        num_classes=10,
        scale=16.0,
        classes=tuple(map(str, range(10))),
    )
