"""ImageFolder trees (ImageNet, Stanford Dogs/Cars, Oxford Flowers) read with PIL, augmented per the recipe.

Layout: ``DATA_DIR/train/CLASS/*.jpg`` and ``DATA_DIR/val/CLASS/*.jpg`` (``test/`` is accepted for ``val/``);
the classes are the sorted folder names under ``train/``. Workers return uint8 (C, H, W) crops; the batch
is normalized with the ImageNet mean and deviation on the device. Each image's random draws come from
(seed, epoch, index), so the augmentation does not depend on the number of workers and a resumed run repeats it.

Training (Sec. 5.2/5.3): an Inception-style random-resized crop when ``scale_min > 0``, else the short side
resized to ``resize`` and a random ``crop``; a horizontal flip; color jitter and random gamma where the recipe
asks for them. Evaluation: the short side resized to ``resize``, then the central ``crop``.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image, ImageEnhance, UnidentifiedImageError

from blueprint.training.config import TrainConfig
from blueprint.training.sampling import eval_order, train_order, train_steps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def scan(root: str, classes: list[str] | None = None) -> tuple[list[str], list[tuple[str, int]]]:
    """The classes (sorted folder names, or ``classes``) and (path, label) of every image under ``root``."""
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"data_dir: no folder {root}; expected DATA_DIR/train/CLASS/*.jpg and DATA_DIR/val/CLASS/*.jpg"
        )
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if classes is None:
        classes = found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(f"data_dir: {root} has classes missing from train/: {', '.join(unknown[:5])}")
    samples = [
        (os.path.join(root, c, f), label)
        for label, c in enumerate(classes) if c in found
        for f in sorted(os.listdir(os.path.join(root, c))) if f.lower().endswith(IMAGE_EXTENSIONS)
    ]  # fmt: skip
    if not classes or not samples:
        extensions = ", ".join(IMAGE_EXTENSIONS)
        raise ValueError(f"data_dir: {root} holds no images in class folders (extensions {extensions})")
    return classes, samples


def resize_short(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    scale = size / min(w, h)
    return img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)


def crop(img: Image.Image, size: int, rng: np.random.Generator | None) -> Image.Image:
    """A ``size`` x ``size`` crop at a random place (``rng``) or in the center (``rng=None``)."""
    w, h = img.size
    left = (w - size) // 2 if rng is None else int(rng.integers(0, w - size + 1))
    top = (h - size) // 2 if rng is None else int(rng.integers(0, h - size + 1))
    return img.crop((left, top, left + size, top + size))


def random_resized_crop(img: Image.Image, size: int, scale_min: float, rng: np.random.Generator) -> Image.Image:
    """Inception-style scale augmentation: a crop of scale_min..1 of the area and aspect 3/4..4/3, resized to size."""
    w, h = img.size
    for _ in range(10):
        area = w * h * rng.uniform(scale_min, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return img.resize((size, size), Image.BILINEAR, box=(left, top, left + cw, top + ch))
    side = min(w, h)
    return crop(img, side, None).resize((size, size), Image.BILINEAR)


def color_jitter(img: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast and saturation, each scaled by a factor drawn from [1 - strength, 1 + strength]."""
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        img = enhance(img).enhance(rng.uniform(1 - strength, 1 + strength))
    return img


def random_gamma(pixels: np.ndarray, gamma: float, rng: np.random.Generator) -> np.ndarray:
    """uint8 pixels -> 255 (p/255)^g with g drawn log-uniformly from [1/(1+gamma), 1+gamma]."""
    g = math.exp(rng.uniform(-math.log1p(gamma), math.log1p(gamma)))
    return np.round(255.0 * (pixels / 255.0) ** g).astype(np.uint8)


class FolderDataset(torch.utils.data.Dataset):
    """Images of ``samples``; ``dataset[(index, epoch)]`` -> (uint8 (3, crop, crop), label)."""

    def __init__(self, samples: list[tuple[str, int]], config: TrainConfig, train: bool):
        self.samples, self.config, self.train = samples, config, train

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, key):
        index, epoch = key
        path, label = self.samples[index]
        try:
            with Image.open(path) as f:
                img = f.convert("RGB")
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f"data_dir: {path} is not a readable image ({err})") from None
        cfg = self.config
        if self.train:
            rng = np.random.default_rng([cfg.seed, epoch, index])
            if cfg.scale_min > 0:
                img = random_resized_crop(img, cfg.crop, cfg.scale_min, rng)
            else:
                img = crop(resize_short(img, cfg.resize), cfg.crop, rng)
            if cfg.flip and rng.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            if cfg.color_jitter > 0:
                img = color_jitter(img, cfg.color_jitter, rng)
            pixels = np.asarray(img)  # H,W,3
            if cfg.gamma > 0:
                pixels = random_gamma(pixels, cfg.gamma, rng)
        else:
            pixels = np.asarray(crop(resize_short(img, cfg.resize), cfg.crop, None))  # H,W,3
        return torch.from_numpy(np.array(pixels)).permute(2, 0, 1), label  # 3,H,W (a writable copy)


class FolderLoader:
    """Batches of an ImageFolder tree for one process of ``world``: the interface of ``MemoryLoader``."""

    def __init__(self, config: TrainConfig, device, batch_size: int, rank: int = 0, world: int = 1):
        if config.resize < config.crop:
            raise ValueError(f"resize: expected at least `crop` ({config.crop}), got {config.resize}")
        classes, train = scan(os.path.join(config.data_dir, "train"))
        val_dir = os.path.join(config.data_dir, "val")
        if not os.path.isdir(val_dir) and os.path.isdir(os.path.join(config.data_dir, "test")):
            val_dir = os.path.join(config.data_dir, "test")
        _, test = scan(val_dir, classes)
        self.num_classes, self.input_size = len(classes), (3, config.crop, config.crop)
        self.num_train, self.num_test = len(train), len(test)
        self.train_set, self.test_set = FolderDataset(train, config, True), FolderDataset(test, config, False)
        self.config, self.device, self.batch_size, self.rank, self.world = config, device, batch_size, rank, world
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.gain = torch.tensor([1 / (255 * s) for s in STD], device=device).view(1, 3, 1, 1)
        self.offset = torch.tensor([-m / s for m, s in zip(MEAN, STD)], device=device).view(1, 3, 1, 1)

    def _batches(self, dataset, keys):
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=self.batch_size, sampler=keys, num_workers=self.config.workers,
            pin_memory=torch.device(self.device).type == "cuda",
        )  # fmt: skip
        try:
            for x, y in loader:
                x = x.to(self.device, non_blocking=True).float() * self.gain + self.offset  # B,3,H,W
                yield x.contiguous(memory_format=self.memory_format), y.to(self.device, non_blocking=True)
        except ValueError as err:  # from a worker it arrives wrapped in the worker's traceback: keep its last line
            raise ValueError(str(err).strip().splitlines()[-1].removeprefix("ValueError: ")) from None

    def train_steps(self) -> int:
        return train_steps(self.num_train, self.batch_size, self.world)

    def train_batches(self, epoch: int):
        order = train_order(self.num_train, self.config.seed, epoch, self.rank, self.world)
        return self._batches(self.train_set, [(int(i), epoch) for i in order])

    def test_batches(self):
        order = eval_order(self.num_test, self.rank, self.world)
        return self._batches(self.test_set, [(int(i), 0) for i in order])
