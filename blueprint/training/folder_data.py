"""ImageFolder trees (ImageNet, Stanford Dogs/Cars, Oxford Flowers) read with PIL, augmented per the recipe.

Layout: ``DATA_DIR/train/CLASS/*.jpg`` and ``DATA_DIR/val/CLASS/*.jpg`` (``test/`` is accepted for ``val/``);
the classes are the sorted folder names under ``train/``. Workers return uint8 (C, H, W) crops; the batch
is normalized with the ImageNet mean and deviation on the device. Each image's random draws come from
(seed, epoch, index), so the augmentation does not depend on the number of workers and a resumed run repeats it.

Training (Sec. 5.2/5.3): an Inception-style random-resized crop when ``scale_min > 0``, else the short side
resized to ``resize`` and a random ``crop``; a horizontal flip; color jitter and random gamma where the recipe
asks for them. Evaluation: the short side resized to ``resize``, then the central ``crop``.

Speed (``blueprint bench loader`` measures it per worker): the crop box is found from the image's header, a JPEG
is decoded at the smallest draft scale that keeps the box at ``crop`` pixels or more, the box is resized to the
crop in one step, brightness and contrast are one 256-entry table, and the random gamma is another. The loader's worker processes persist across
epochs; their number defaults to the cores this process may use (shared with the other processes of a node under
``torchrun``) less one for the training loop.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from blueprint.training.config import TrainConfig
from blueprint.training.sampling import eval_order, train_order, train_steps

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def scan(root: str, classes: list[str] | None = None) -> tuple[list[str], list[tuple[str, int]]]:
    """The classes (sorted folder names, or ``classes``) and (path, label) of every image under ``root``.

    A class's images may lie in sub-folders of its folder at any depth (``train/cat/2024/a.jpg``): all are its.
    A class folder of ``train/`` (``classes`` None) that holds no image is refused, naming it.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(
            f"data_dir: no folder {root}; expected DATA_DIR/train/CLASS/*.jpg and DATA_DIR/val/CLASS/*.jpg"
        )
    found = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    given = classes is not None
    classes = classes if given else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise ValueError(f"data_dir: {root} has classes missing from train/: {', '.join(unknown[:5])}")
    samples = [
        (path, label) for label, c in enumerate(classes) if c in found for path in _images(os.path.join(root, c))
    ]
    extensions = ", ".join(IMAGE_EXTENSIONS)
    if not classes or not samples:
        raise ValueError(f"data_dir: {root} holds no images in class folders (extensions {extensions})")
    labels = {y for _, y in samples}
    empty = [c for label, c in enumerate(classes) if c in found and label not in labels]
    if empty and not given:
        raise ValueError(
            f"data_dir: the class folder{'s' * (len(empty) > 1)} {', '.join(empty[:5])} of {root} "
            f"hold{'s' * (len(empty) == 1)} no images (extensions {extensions}); add images or "
            f"remove the folder"
        )
    return classes, samples


def _images(folder: str) -> list[str]:
    """The image files under ``folder`` and its sub-folders, in sorted order."""
    paths = []
    for where, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        paths += [os.path.join(where, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
    return paths


def as_mode(img: Image.Image, mode: str) -> Image.Image:
    """``img`` in ``mode`` ("RGB" or "L"), its intensities kept: 16- and 32-bit integer images (``I;16``, ``I``)
    are scaled from 0..65535 to 0..255 first (PIL's ``convert`` would clip them to 0 or 255), a palette image
    goes through its palette."""
    if img.mode == mode:
        return img
    if img.mode.startswith("I"):
        wide = np.asarray(img, dtype=np.float64)  # H,W of 0..65535
        img = Image.fromarray(np.clip(np.round(wide / 257.0), 0, 255).astype(np.uint8), "L")
    elif img.mode == "P":
        img = img.convert("RGBA")
    return img.convert(mode)


def center_or_random_box(w: int, h: int, resize: int, size: int, rng: np.random.Generator | None) -> tuple:
    """Where the ``size`` x ``size`` crop (random with ``rng``, else central) of the image resized to short side
    ``resize`` lies in the ``w`` x ``h`` image: (left, top, right, bottom), in its pixels."""
    scale = resize / min(w, h)
    rw, rh = max(resize, round(w * scale)), max(resize, round(h * scale))  # the resized image
    left = (rw - size) // 2 if rng is None else int(rng.integers(0, rw - size + 1))
    top = (rh - size) // 2 if rng is None else int(rng.integers(0, rh - size + 1))
    sx, sy = w / rw, h / rh
    return (left * sx, top * sy, (left + size) * sx, (top + size) * sy)


def random_resized_box(w: int, h: int, scale_min: float, rng: np.random.Generator) -> tuple:
    """Inception-style scale augmentation: a box of scale_min..1 of the area and aspect 3/4..4/3 (ten tries,
    then the central square), (left, top, right, bottom) in the ``w`` x ``h`` image's pixels."""
    for _ in range(10):
        area = w * h * rng.uniform(scale_min, 1.0)
        aspect = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * aspect)), round(math.sqrt(area / aspect))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            return (left, top, left + cw, top + ch)
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return (left, top, left + side, top + side)


def decode(path: str, box_of, size: int, argument: str = "data_dir") -> tuple[Image.Image, tuple]:
    """The RGB image at ``path`` and the crop box ``box_of(w, h)`` in its pixels, for a ``size`` x ``size`` crop.

    A JPEG is decoded in draft mode: scaled by 1/2, 1/4 or 1/8 inside the decoder (in the DCT, several times
    faster than decoding in full and resizing) as far as the box keeps at least ``size`` pixels a side, so the
    crop is never upsampled more than from the full image. Other formats decode in full. An unreadable file is a
    ``ValueError`` naming ``argument``.
    """
    try:
        with Image.open(path) as f:
            w, h = f.size
            box = box_of(w, h)
            shrink = min(box[2] - box[0], box[3] - box[1]) / size  # > 1: the box has pixels to spare
            if shrink > 1:
                f.draft("RGB", (math.ceil(w / shrink), math.ceil(h / shrink)))
            f.load()
            img = as_mode(f, "RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise ValueError(f"{argument}: {path} is not a readable image ({err})") from None
    sx, sy = img.size[0] / w, img.size[1] / h  # 1 unless drafted
    return img, (box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy)


LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601-2, as PIL converts RGB to L


def color_jitter(img: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast and saturation of an RGB image, in that order, each by a factor drawn from
    [1 - strength, 1 + strength], as PIL's ``ImageEnhance`` defines them: blends with black, with the mean gray
    level, with the image's gray version. Brightness and contrast act on each value alone, so both go into one
    256-entry table applied in one pass (``Image.point``); the mean gray level that contrast blends with is
    taken from the brightened histogram, so no intermediate image is made."""
    brightness, contrast, saturation = (rng.uniform(1 - strength, 1 + strength) for _ in range(3))
    bright = np.clip(np.arange(256) * brightness, 0, 255).astype(np.uint8)  # truncated, as PIL's blend does
    counts = np.asarray(img.histogram(), dtype=np.float64).reshape(3, 256)  # R, G, B
    mean = int(LUMA @ (counts @ bright) / counts[0].sum() + 0.5)
    table = np.clip(mean + contrast * (bright - float(mean)), 0, 255).astype(np.uint8)
    img = img.point(np.tile(table, 3).tolist())
    return Image.blend(img.convert("L").convert("RGB"), img, saturation)


def gamma_table(gamma: float, rng: np.random.Generator) -> np.ndarray:
    """The lookup table p -> round(255 (p/255)^g) of the 256 uint8 values, g drawn log-uniformly from
    [1/(1+gamma), 1+gamma]: indexing it applies the random gamma to an image (256 powers, not one a pixel)."""
    g = math.exp(rng.uniform(-math.log1p(gamma), math.log1p(gamma)))
    return np.round(255.0 * (np.arange(256) / 255.0) ** g).astype(np.uint8)


class FolderDataset(torch.utils.data.Dataset):
    """Images of ``samples``; ``dataset[(index, epoch)]`` -> (uint8 (3, crop, crop), label)."""

    def __init__(self, samples: list[tuple[str, int]], config: TrainConfig, train: bool):
        self.samples, self.config, self.train = samples, config, train

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, key):
        index, epoch = key
        path, label = self.samples[index]
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, epoch, index]) if self.train else None
        if rng is not None and cfg.scale_min > 0:
            img, box = decode(path, lambda w, h: random_resized_box(w, h, cfg.scale_min, rng), cfg.crop)
        else:
            img, box = decode(path, lambda w, h: center_or_random_box(w, h, cfg.resize, cfg.crop, rng), cfg.crop)
        img = img.resize((cfg.crop, cfg.crop), Image.BILINEAR, box=box)  # the crop, resized in one step
        if rng is not None:
            if cfg.flip and rng.random() < 0.5:
                img = img.transpose(Image.FLIP_LEFT_RIGHT)
            if cfg.color_jitter > 0:
                img = color_jitter(img, cfg.color_jitter, rng)
        pixels = np.array(img)  # H,W,3 (a writable copy)
        if rng is not None and cfg.gamma > 0:
            pixels = gamma_table(cfg.gamma, rng)[pixels]
        return torch.from_numpy(pixels).permute(2, 0, 1), label  # 3,H,W


def default_workers() -> int:
    """Data-loading processes for one training process: the cores it may use, shared with the other processes of
    its node under torchrun (``LOCAL_WORLD_SIZE``), less one for the training loop itself; at least one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // int(os.environ.get("LOCAL_WORLD_SIZE", "1")) - 1)


class Keys(torch.utils.data.Sampler):
    """The (index, epoch) keys a loader reads next: set before each pass, so that one ``DataLoader`` (and its
    persistent worker processes) serves every epoch."""

    def __init__(self):
        self.keys: list[tuple[int, int]] = []

    def __iter__(self):
        return iter(self.keys)

    def __len__(self):
        return len(self.keys)


class FolderLoader:
    """Batches of an ImageFolder tree for one process of ``world``: the interface of ``MemoryLoader``."""

    def __init__(
        self,
        config: TrainConfig,
        device,
        batch_size: int,
        rank: int = 0,
        world: int = 1,
        classes: tuple[str, ...] | None = None,
    ):
        """``classes``: the class names of a trained model, for evaluation: then only ``val/`` is read."""
        if config.resize < config.crop:
            raise ValueError(f"resize: expected at least `crop` ({config.crop}), got {config.resize}")
        if classes is None:
            classes, train = scan(os.path.join(config.data_dir, "train"))
        else:
            classes, train = list(classes), []
        val_dir = os.path.join(config.data_dir, "val")
        if not os.path.isdir(val_dir) and os.path.isdir(os.path.join(config.data_dir, "test")):
            val_dir = os.path.join(config.data_dir, "test")
        _, test = scan(val_dir, classes)
        self.num_classes, self.input_size, self.classes = len(classes), (3, config.crop, config.crop), tuple(classes)
        self.mean, self.std, self.resize = MEAN, STD, config.resize
        self.num_train, self.num_test = len(train), len(test)
        self.train_set, self.test_set = FolderDataset(train, config, True), FolderDataset(test, config, False)
        self.config, self.device, self.batch_size, self.rank, self.world = config, device, batch_size, rank, world
        self.memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
        self.gain = torch.tensor([1 / (255 * s) for s in STD], device=device).view(1, 3, 1, 1)
        self.offset = torch.tensor([-m / s for m, s in zip(MEAN, STD)], device=device).view(1, 3, 1, 1)
        self.workers = default_workers() if config.workers is None else config.workers
        self.loaders = {}  # dataset -> (DataLoader, Keys), made on first use

    def _batches(self, dataset, keys):
        if dataset not in self.loaders:
            sampler = Keys()
            loader = torch.utils.data.DataLoader(
                dataset,
                batch_size=self.batch_size,
                sampler=sampler,
                num_workers=self.workers,
                pin_memory=torch.device(self.device).type == "cuda",
                persistent_workers=self.workers > 0,
            )
            self.loaders[dataset] = (loader, sampler)
        loader, sampler = self.loaders[dataset]
        sampler.keys = keys
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
