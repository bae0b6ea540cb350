"""``blueprint bench loader``: images/s of one data-loading worker of the ImageFolder pipeline, for each recipe.

A worker decodes and augments one image after another (``FolderDataset[(index, epoch)]``); its rate is measured
here in this process, as the median of ``rounds`` passes over the images, for the training transform of each
recipe (``imagenet``: random-resized crops, flips, color jitter; ``finegrained``: resize, random crops, flips,
random gamma) and for the evaluation transform (resize, central crop). A run's loader delivers at most that
rate times its workers (``default_workers()`` unless ``--workers`` says otherwise) when the cores are free.
Without a data folder the images are JPEGs of ``size`` written to a temporary folder: smooth color fields with
noise, which a JPEG encoder compresses about as well as photographs.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

import numpy as np
from PIL import Image

from blueprint.tables import format_table
from blueprint.training.config import recipe
from blueprint.training.folder_data import FolderDataset, default_workers, scan

RECIPES = {"imagenet": "imagenet", "finegrained": "dogs"}  # recipe -> a data set that uses it


def write_jpeg_folder(root: str, images: int, size: tuple[int, int], classes: int = 2, seed: int = 0) -> str:
    """``root/train/CLASS/*.jpg`` and ``root/val/CLASS/*.jpg``: ``images`` JPEGs of ``size`` (w, h) per split."""
    rng = np.random.default_rng(seed)
    w, h = size
    ys, xs = np.mgrid[0:h, 0:w] / max(w, h)  # H,W
    for split in ("train", "val"):
        for c in range(classes):
            os.makedirs(os.path.join(root, split, f"class{c}"), exist_ok=True)
        for i in range(images):
            phase = rng.uniform(0, 2 * np.pi, 3)
            field = [127 + 100 * np.sin(6 * xs + 4 * ys * (k + 1) + phase[k]) for k in range(3)]  # 3 x H,W
            pixels = np.stack(field, -1) + rng.normal(0, 8, (h, w, 3))  # H,W,3
            img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
            img.save(os.path.join(root, split, f"class{i % classes}", f"{i}.jpg"), quality=90)
    return root


def images_per_second(dataset: FolderDataset, rounds: int) -> float:
    """The median rate over ``rounds`` passes of ``dataset[(i, pass)]`` over every image."""
    rates = []
    for epoch in range(rounds):
        began = time.perf_counter()
        for i in range(len(dataset)):
            dataset[(i, epoch)]
        rates.append(len(dataset) / (time.perf_counter() - began))
    return statistics.median(rates)


def run(
    data_dir: str | None = None, recipes=tuple(RECIPES), images: int = 64, size=(500, 375), rounds: int = 3, on_row=None
) -> list[dict]:
    """One row per recipe and split: images/s per worker and the loader's bound with the default workers."""
    with tempfile.TemporaryDirectory() as tmp:
        root = data_dir or write_jpeg_folder(tmp, images, size)
        rows = []
        for name in recipes:
            config = recipe(RECIPES[name], data_dir=root, workers=0)
            for split, train in (("train", True), ("val", False)):
                _, samples = scan(os.path.join(root, split))
                rate = images_per_second(FolderDataset(samples[:images], config, train), rounds)
                rows.append(
                    dict(
                        recipe=name,
                        split=split,
                        images=min(images, len(samples)),
                        per_worker=rate,
                        workers=default_workers(),
                    )
                )
                if on_row:
                    on_row(rows[-1])
    return rows


HEADER = ("recipe", "transform", "images", "images/s per worker", "default workers", "bound images/s")


def format_rows(rows: list[dict]) -> str:
    return format_table(
        HEADER,
        [
            [
                r["recipe"],
                r["split"],
                str(r["images"]),
                f"{r['per_worker']:,.0f}",
                str(r["workers"]),
                f"{r['per_worker'] * r['workers']:,.0f}",
            ]
            for r in rows
        ],
    )
