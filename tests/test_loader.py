"""The ImageFolder pipeline's fast paths against their plain versions, persistent workers, and the loader benchmark."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from PIL import Image

from blueprint import cli
from blueprint.benchmarks.loader import write_jpeg_folder
from blueprint.training import folder_data
from blueprint.training.config import TrainConfig
from blueprint.training.folder_data import FolderLoader, center_or_random_box, decode, gamma_table
from tests.training_data import write_image_folder


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_gamma_lookup_table_equals_the_power_law_per_pixel(seed):
    pixels = np.random.default_rng(seed).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    table = gamma_table(0.25, np.random.default_rng([seed]))
    rng = np.random.default_rng([seed])
    g = math.exp(rng.uniform(-math.log1p(0.25), math.log1p(0.25)))
    assert np.array_equal(table[pixels], np.round(255.0 * (pixels / 255.0) ** g).astype(np.uint8))


@pytest.mark.parametrize("seed", range(4))
def test_color_jitter_by_one_table_equals_pil_imageenhance_to_one_level(seed):
    """Brightness and contrast as one 256-entry table, then saturation, against PIL's ImageEnhance chain (the
    definition) with the same three factors; extreme images (near black, near white) clip like PIL's."""
    from PIL import ImageEnhance

    rng = np.random.default_rng(seed)
    low, high = [(0, 256), (0, 40), (215, 256), (60, 200)][seed]
    img = Image.fromarray(rng.integers(low, high, (20, 30, 3), dtype=np.uint8))
    want = img
    factors = np.random.default_rng(seed + 10).uniform(0.6, 1.4, 3)
    for enhance, factor in zip((ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color), factors):
        want = enhance(want).enhance(factor)
    got = folder_data.color_jitter(img, 0.4, np.random.default_rng(seed + 10))
    difference = np.abs(np.asarray(got, dtype=int) - np.asarray(want, dtype=int))
    assert difference.max() <= 1 and difference.mean() < 0.05


def test_draft_decoding_keeps_the_crop_box_at_crop_resolution_and_close_to_a_full_decode(tmp_path):
    write_jpeg_folder(str(tmp_path), images=1, size=(640, 480), classes=1)
    path = str(tmp_path / "train" / "class0" / "0.jpg")
    box_of = lambda w, h: center_or_random_box(w, h, resize=64, size=56, rng=None)  # noqa: E731
    img, box = decode(path, box_of, size=56)
    assert img.size == (160, 120)  # 1/4 scale: the box is 105 px a side there (1/8 would leave 52 < 56)
    assert min(box[2] - box[0], box[3] - box[1]) >= 56
    fast = np.asarray(img.resize((56, 56), Image.BILINEAR, box=box), dtype=np.float64)
    with Image.open(path) as f:
        full = f.convert("RGB")
    plain = np.asarray(full.resize((56, 56), Image.BILINEAR, box=box_of(*full.size)), dtype=np.float64)
    assert np.abs(fast - plain).mean() < 3.0  # out of 255: the DCT's downscaling against bilinear


def test_an_image_that_is_not_a_jpeg_decodes_in_full(tmp_path):
    root = write_image_folder(tmp_path, size=(40, 30))
    img, box = decode(str(root / "train" / "cat" / "0.png"), lambda w, h: (0, 0, w, h), size=8)
    assert img.size == (40, 30) and box == (0, 0, 40, 30)


def test_one_loader_with_persistent_workers_serves_every_epoch_like_no_workers(tmp_path):
    root = write_image_folder(tmp_path, per_class=3)
    config = dict(dataset="dogs", data_dir=str(root), resize=8, crop=6, gamma=0.3, batch_size=4)
    inline = FolderLoader(TrainConfig(**config, workers=0), "cpu", batch_size=4)
    pooled = FolderLoader(TrainConfig(**config, workers=1), "cpu", batch_size=4)
    for epoch in (0, 1):
        for (a, _), (b, _) in zip(inline.train_batches(epoch), pooled.train_batches(epoch), strict=True):
            assert torch.equal(a, b)
    ((loader, _),) = pooled.loaders.values()
    assert loader.persistent_workers and loader._iterator is not None  # the worker pool outlived epoch 0


def test_default_workers_share_the_cores_of_a_node(monkeypatch):
    monkeypatch.setattr(folder_data.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert folder_data.default_workers() == 3
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
    assert folder_data.default_workers() == 15
    monkeypatch.setattr(folder_data.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert folder_data.default_workers() == 1
    assert TrainConfig().workers is None  # in the config: the loader chooses


def test_loader_bench_prints_a_positive_rate_per_worker_for_each_recipe(capsys):
    assert cli.main(["bench", "loader", "--quick"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if re.match(r"(imagenet|finegrained) ", line)]
    assert [(r[0], r[1]) for r in rows] == [
        ("imagenet", "train"),
        ("imagenet", "val"),
        ("finegrained", "train"),
        ("finegrained", "val"),
    ]
    assert all(float(r[3].replace(",", "")) > 0 and int(r[4]) >= 1 for r in rows)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--recipes", "cifar"], "--recipes: expected a comma-separated subset"),
        (["--size", "500"], "--size: expected WIDTHxHEIGHT such as 500x375"),
        (["--data-dir", "/nonexistent"], "--data-dir: no folder /nonexistent/train"),
    ],
)
def test_loader_bench_refuses_bad_arguments_in_one_line(argv, message, capsys):
    assert cli.main(["bench", "loader", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
