"""The training protocols of Sec. 5 as one dataclass: ``recipe(dataset)`` gives the paper's values for a data set.

Every field can be overridden from the command line; the run saves the effective configuration as
``OUT/config.json`` and in each checkpoint. The recipes:

- ``cifar10``, ``cifar100`` (Sec. 5.1): 200 epochs, SGD momentum 0.9, weight decay 1e-4, lr 0.1 times 0.1 at
  epochs 100, 150, 180; random horizontal flips and shifts of up to 4 px; alpha 0.01 for Eq. (9).
- ``imagenet`` (Sec. 5.2): 100 epochs, lr 0.1 times 0.1 at 30, 60, 90; short side resized to 256,
  Inception-style scale augmentation (random-resized 224 crops), flips, color jitter; alpha 0.1.
- ``finegrained`` (Sec. 5.3; data sets ``dogs``, ``cars``, ``flowers``): 100 epochs, lr 0.1 decayed linearly
  every epoch to reach zero at the end; random crops, flips and random gamma only; alpha 0.1.
- ``folder`` (your own ImageFolder, not in the paper): ``DATA_DIR/train/CLASS/`` and ``DATA_DIR/val/CLASS/``;
  30 epochs, lr 0.05 decayed linearly to zero, batch 64, 128 px crops of the short side resized to 146, flips,
  alpha 0.01; ``blueprint train`` prints these values in its first lines (``recipe_line``).
- ``digits`` (the CPU demo, not in the paper): scikit-learn's 8x8 digits, the fine-grained schedule over 30
  epochs, shifts of 1 px and no flips (a mirrored digit is another digit), one CPU thread (on 8x8 images a
  second thread only adds synchronization, and where the cores are shared it can slow a step down 100x).

The paper gives no batch sizes, crop size for the fine-grained sets or default models; the values below
(128 for CIFAR, 256 for ImageNet, 64 and 224 px crops for the fine-grained sets) are common choices.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field

# data set name -> recipe name
DATASETS = {
    "cifar10": "cifar10",
    "cifar100": "cifar100",
    "imagenet": "imagenet",
    "dogs": "finegrained",
    "cars": "finegrained",
    "flowers": "finegrained",
    "digits": "digits",
    "folder": "folder",
}
IMAGE_FOLDER_DATASETS = ("imagenet", "dogs", "cars", "flowers", "folder")
SCHEDULES = ("step", "linear")
# what a resumed run cannot change: the restored optimizer and schedule, and the data order, depend on them
FIXED_ON_RESUME = (
    "dataset",
    "lr",
    "momentum",
    "weight_decay",
    "schedule",
    "milestones",
    "lr_decay",
    "batch_size",
    "seed",
    "init_from",
    "distill_from",
    "distill_temperature",
    "distill_weight",
)


def option(default, text: str):
    """A ``TrainConfig`` field whose ``metadata["help"]`` is ``text``: ``blueprint train`` makes its flag from it."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """Everything a run depends on. Defaults are the CIFAR protocol (Sec. 5.1) on the CPU. Each field's help
    text (``metadata["help"]``) is also its flag's in ``blueprint train``."""

    dataset: str = option("cifar10", f"data set, which picks the recipe: {', '.join(DATASETS)} (default: cifar10)")
    model: str = option(
        "cifar_resnet20",
        "zoo model name (see `blueprint models`) or package.module:factory, a "
        "callable returning an nn.Module (given num_classes= if it takes it); required unless "
        "--resume",
    )
    data_dir: str = option(
        "data",
        "folder with cifar-10-batches-py/ or cifar-100-python/, or ImageFolder train/ and "
        "val/ (default: data; stored as an absolute path)",
    )
    output_dir: str = option(
        "runs/train", "where config.json, metrics.csv, last.pt, best.pt and curves.png go (default: runs/train)"
    )
    # optimization (Sec. 5: SGD with momentum, weight decay 1e-4, lr 0.1)
    epochs: int = option(200, "total epochs (with --resume: train until this epoch, on the schedule of this total)")
    batch_size: int = option(128, "global batch size, split evenly over the processes")
    lr: float = option(0.1, "initial learning rate")
    momentum: float = option(0.9, "SGD momentum, in [0, 1)")
    weight_decay: float = option(1e-4, "SGD weight decay")
    schedule: str = option(
        "step",
        f"learning-rate schedule: {', '.join(SCHEDULES)} ('step': times --lr-decay at "
        f"each milestone; 'linear': to zero after the last epoch)",
    )
    milestones: list[int] = option(
        [100, 150, 180], "epochs at which a 'step' schedule multiplies the lr by --lr-decay, e.g. 100,150,180"
    )
    lr_decay: float = option(0.1, "factor of a 'step' schedule")
    alpha: float = option(0.01, "weight of the orthonormal loss, Eq. (9)")
    # from a trained network (blueprint.training.warm_start, blueprint.training.distillation)
    init_from: str | None = option(
        None,
        "a checkpoint of --model's baseline (e.g. digits_cnn for digits_cnn_bsconvu): "
        "the run starts from it converted by SVD, BatchNorm recalibrated",
    )
    distill_from: str | None = option(
        None, "a checkpoint of a teacher (often the --init-from file): distill from its logits"
    )
    distill_temperature: float = option(4.0, "temperature T of the distillation loss")
    distill_weight: float = option(0.9, "weight a of the distillation loss: (1 - a) CE + a T^2 KL")
    # augmentation
    flip: bool = option(True, "random horizontal flips")
    shift: int = option(4, "CIFAR/digits: random shifts of up to this many pixels (zero padding)")
    resize: int = option(256, "image folders: short side before cropping (and for evaluation)")
    crop: int = option(224, "image folders: training and evaluation crop size")
    scale_min: float = option(0.0, "image folders: > 0 for Inception-style crops of scale_min..1 of the area")
    color_jitter: float = option(0.0, "image folders: brightness/contrast/saturation factors from 1 +- this")
    gamma: float = option(0.0, "image folders: > 0 for a random gamma from [1/(1+g), 1+g], log-uniform")
    # execution
    device: str = option(
        "auto",
        "auto, cpu, cuda or cuda:N (default: auto: a GPU when PyTorch sees one, under "
        "torchrun the local rank's; the CPU with --backend accel)",
    )
    backend: str = option("torch", "kernels of the BSConv layers on the CPU: torch (default) or accel (Numba, fused)")
    amp: bool = option(
        False, "mixed precision (bfloat16 on the CPU and on GPUs that have it, else float16 with a gradient scaler)"
    )
    channels_last: bool = option(
        False,
        "channels-last memory layout (on the CPU faster for both backends; the accel backend's layers then change no layout)",
    )
    compile: bool = option(False, "torch.compile the model")
    sync_bn: bool = option(False, "several GPUs: BatchNorm statistics over the global batch (SyncBatchNorm)")
    deterministic: bool = option(
        False, "deterministic algorithms only (cuDNN, cuBLAS): a GPU run repeats bit for bit, a little slower"
    )
    workers: int | None = option(None, "image folders: data-loading processes (default: the cores available less one)")
    threads: int = option(0, "CPU threads of PyTorch (0: its default); small models run fastest on one")
    seed: int = option(0, "seed of initialization, data order and augmentation, in [0, 2**32 - 1]")
    download: bool = option(False, "download CIFAR into --data-dir if it is not there")

    def validate(self) -> "TrainConfig":
        """Check every value where the configuration is made; returns self. Errors name the field."""
        from blueprint.menus import LAYER_BACKENDS as BACKENDS
        from blueprint.models import factory

        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")
        factory.check(self.model)
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "accel" and not (self.device.startswith("cpu") or self.device == "auto"):
            raise ValueError(f"backend: accel runs on the CPU, got `device={self.device}`; use `backend=torch`")
        if self.backend == "accel" and self.compile:
            raise ValueError(
                "compile: torch.compile cannot trace accel's Numba kernels (it would run the BSConv "
                "layers as torch ops); use `backend=torch` with `compile`, or accel without it"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "crop": self.crop, "resize": self.resize}
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        non_negative = (
            "lr",
            "momentum",
            "weight_decay",
            "lr_decay",
            "alpha",
            "shift",
            "workers",
            "threads",
            "scale_min",
            "color_jitter",
            "gamma",
        )
        for name, value in ((n, getattr(self, n)) for n in non_negative if getattr(self, n) is not None):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite value >= 0, got {value!r}")
        if self.momentum >= 1:
            raise ValueError(f"momentum: expected a value in [0, 1) (SGD diverges at 1 and above), got {self.momentum}")
        check_seed(self.seed)
        if not (math.isfinite(self.distill_temperature) and self.distill_temperature > 0):
            raise ValueError(f"distill_temperature: expected a finite value > 0, got {self.distill_temperature!r}")
        if not 0 <= self.distill_weight <= 1:
            raise ValueError(f"distill_weight: expected a weight in [0, 1], got {self.distill_weight!r}")
        if self.scale_min > 1:
            raise ValueError(f"scale_min: expected a share of the image area <= 1, got {self.scale_min}")
        if self.color_jitter >= 1:
            raise ValueError(f"color_jitter: expected a strength < 1, got {self.color_jitter}")
        if sorted(self.milestones) != list(self.milestones) or any(m < 1 for m in self.milestones):
            raise ValueError(f"milestones: expected increasing positive epochs, got {self.milestones!r}")
        return self

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


_RECIPES = {
    "cifar10": dict(),
    "cifar100": dict(),
    "imagenet": dict(
        model="resnet18",
        epochs=100,
        milestones=[30, 60, 90],
        alpha=0.1,
        batch_size=256,
        scale_min=0.08,
        color_jitter=0.4,
    ),
    "finegrained": dict(
        model="mobilenetv3_large_w1", epochs=100, schedule="linear", milestones=[], alpha=0.1, batch_size=64, gamma=0.25
    ),
    "folder": dict(
        epochs=30, schedule="linear", milestones=[], lr=0.05, batch_size=64, alpha=0.01, resize=146, crop=128
    ),
    "digits": dict(
        model="digits_cnn",
        epochs=30,
        batch_size=64,
        lr=0.05,
        weight_decay=5e-4,
        schedule="linear",
        milestones=[],
        alpha=0.01,
        flip=False,
        shift=1,
        workers=0,
        threads=1,
    ),
}


def recipe(dataset: str, **overrides) -> TrainConfig:
    """The Sec. 5 protocol for ``dataset`` (see the module docstring), with ``overrides`` applied and checked."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {dataset!r}")
    values = {**_RECIPES[DATASETS[dataset]], "dataset": dataset, **overrides}
    unknown = sorted(set(values) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"overrides: unknown configuration fields {unknown}")
    return TrainConfig(**values).validate()


def check_seed(seed, argument: str = "seed") -> int:
    """``seed`` if it is an int in [0, 2**32 - 1] (what NumPy's and torch's generators take); else ``ValueError``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ValueError(f"{argument}: expected an int in [0, 2**32 - 1], got {seed!r}")
    return seed


def recipe_line(dataset: str) -> str:
    """The values the recipe of ``dataset`` sets beyond the defaults, as one line: ``folder recipe: epochs 30, ...``."""
    values = _RECIPES[DATASETS[dataset]]
    return f"{DATASETS[dataset]} recipe: " + ", ".join(f"{k} {v}" for k, v in values.items())


def load_config(path: str) -> dict:
    """The fields saved in a run's ``config.json`` (a dict, to be passed to ``recipe`` as overrides)."""
    try:
        with open(path) as f:
            values = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"config: cannot read {path} ({err})") from None
    if not isinstance(values, dict):
        raise ValueError(f"config: expected a JSON object in {path}, got {type(values).__name__}")
    return values


def save_config(config: TrainConfig, path: str) -> None:
    """Write ``config`` as JSON atomically (``blueprint.paths.atomic_text``)."""
    from blueprint.paths import atomic_text

    atomic_text(path, config.to_json() + "\n")


def effective_config(overrides: dict, resume: bool) -> TrainConfig:
    """The run's configuration: the recipe of the data set, then (with ``resume``) the values saved in
    ``OUTPUT_DIR/config.json``, then ``overrides`` (the flags the user gave)."""
    saved = {}
    if resume:
        path = os.path.join(overrides.get("output_dir", TrainConfig.output_dir), "config.json")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"resume: no run to resume at {path}; pass the `output_dir` of the run")
        saved = load_config(path)
        fixed = [k for k in FIXED_ON_RESUME if k in overrides and k in saved and overrides[k] != saved[k]]
        if fixed:
            changed = ", ".join(f"`{k}` (was {saved[k]!r})" for k in fixed)
            raise ValueError(
                f"resume: {changed} cannot change in a resumed run, whose optimizer, schedule and data "
                f"order continue exactly; start a new run in another `output_dir`"
            )
    values = {**saved, **overrides}
    return recipe(values.pop("dataset", TrainConfig.dataset), **values)
