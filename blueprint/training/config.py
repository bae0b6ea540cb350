"""The training protocols of Sec. 5 as one dataclass: ``recipe(dataset)`` gives the paper's values for a data set.

Every field can be overridden from the command line; the run saves the effective configuration as
``OUT/config.json`` and in each checkpoint. The recipes:

- ``cifar10``, ``cifar100`` (Sec. 5.1): 200 epochs, SGD momentum 0.9, weight decay 1e-4, lr 0.1 times 0.1 at
  epochs 100, 150, 180; random horizontal flips and shifts of up to 4 px; alpha 0.01 for Eq. (9).
- ``imagenet`` (Sec. 5.2): 100 epochs, lr 0.1 times 0.1 at 30, 60, 90; short side resized to 256,
  Inception-style scale augmentation (random-resized 224 crops), flips, color jitter; alpha 0.1.
- ``finegrained`` (Sec. 5.3; data sets ``dogs``, ``cars``, ``flowers``): 100 epochs, lr 0.1 decayed linearly
  every epoch to reach zero at the end; random crops, flips and random gamma only; alpha 0.1.
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
}
IMAGE_FOLDER_DATASETS = ("imagenet", "dogs", "cars", "flowers")
SCHEDULES = ("step", "linear")
# what a resumed run cannot change: the restored optimizer and schedule, and the data order, depend on them
FIXED_ON_RESUME = (
    "dataset", "lr", "momentum", "weight_decay", "schedule", "milestones", "lr_decay", "batch_size", "seed",
    "init_from", "distill_from", "distill_temperature", "distill_weight",
)  # fmt: skip


@dataclass
class TrainConfig:
    """Everything a run depends on. Defaults are the CIFAR protocol (Sec. 5.1) on the CPU."""

    dataset: str = "cifar10"
    model: str = "cifar_resnet20"
    data_dir: str = "data"
    output_dir: str = "runs/train"
    # optimization (Sec. 5: SGD with momentum, weight decay 1e-4, lr 0.1)
    epochs: int = 200
    batch_size: int = 128  # global: split evenly over the processes of a distributed run
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "step"  # 'step': lr *= lr_decay at each milestone; 'linear': to zero at the last epoch
    milestones: list[int] = field(default_factory=lambda: [100, 150, 180])
    lr_decay: float = 0.1
    alpha: float = 0.01  # weight of the orthonormal loss, Eq. (9)
    # from a trained network (blueprint.training.warm_start, blueprint.training.distillation)
    init_from: str | None = None  # a checkpoint of the model's baseline, converted by SVD (a BSConv variant)
    distill_from: str | None = None  # a checkpoint of the teacher whose logits the loss distills
    distill_temperature: float = 4.0  # T of the distillation loss
    distill_weight: float = 0.9  # a: (1 - a) cross-entropy + a T^2 KL
    # augmentation
    flip: bool = True
    shift: int = 4  # in-memory data: random shifts of up to this many pixels (zero padding)
    resize: int = 256  # image folders: short side before cropping (and for evaluation)
    crop: int = 224  # image folders: training and evaluation crop size
    scale_min: float = 0.0  # > 0: Inception-style random-resized crops covering scale_min..1 of the area
    color_jitter: float = 0.0  # brightness, contrast and saturation factors drawn from 1 +- color_jitter
    gamma: float = 0.0  # > 0: random gamma drawn log-uniformly from [1/(1+gamma), 1+gamma]
    # execution
    device: str = "auto"  # a GPU (the local rank's under torchrun) when PyTorch sees one and backend is torch
    backend: str = "torch"  # BSConv layers' CPU kernels: "torch", or "accel" (the Numba fast path)
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False  # several GPUs: BatchNorm statistics over the global batch (SyncBatchNorm)
    deterministic: bool = False  # deterministic algorithms only (cuDNN, cuBLAS): a GPU run repeats bit for bit
    workers: int | None = None  # image folders: loading processes (None: the cores available less one)
    threads: int = 0  # CPU threads of PyTorch (0: its default); small models run fastest on one
    seed: int = 0
    download: bool = False

    def validate(self) -> "TrainConfig":
        """Check every value where the configuration is made; returns self. Errors name the field."""
        from blueprint.backend import BACKENDS
        from blueprint.models import list_models
        from blueprint.names import unknown_name_error

        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.model not in list_models():
            raise ValueError(unknown_name_error("model", self.model, list_models()))
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.backend == "accel" and not (self.device.startswith("cpu") or self.device == "auto"):
            raise ValueError(f"backend: accel runs on the CPU, got `device={self.device}`; use `backend=torch`")
        if self.backend == "accel" and self.compile:
            raise ValueError("compile: torch.compile cannot trace accel's Numba kernels (it would run the BSConv "
                             "layers as torch ops); use `backend=torch` with `compile`, or accel without it")  # fmt: skip
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        positive = {"epochs": self.epochs, "batch_size": self.batch_size, "crop": self.crop, "resize": self.resize}
        for name, value in positive.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        non_negative = ("lr", "momentum", "weight_decay", "lr_decay", "alpha", "shift", "workers", "threads",
                        "scale_min", "color_jitter", "gamma")  # fmt: skip
        for name, value in ((n, getattr(self, n)) for n in non_negative if getattr(self, n) is not None):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite value >= 0, got {value!r}")
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
    "imagenet": dict(model="resnet18", epochs=100, milestones=[30, 60, 90], alpha=0.1, batch_size=256,
                     scale_min=0.08, color_jitter=0.4),  # fmt: skip
    "finegrained": dict(model="mobilenetv3_large_w1", epochs=100, schedule="linear", milestones=[], alpha=0.1,
                        batch_size=64, gamma=0.25),  # fmt: skip
    "digits": dict(model="digits_cnn", epochs=30, batch_size=64, lr=0.05, weight_decay=5e-4, schedule="linear",
                   milestones=[], alpha=0.01, flip=False, shift=1, workers=0, threads=1),  # fmt: skip
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
    """Write ``config`` as JSON atomically (a temporary file, then ``os.replace``)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(config.to_json() + "\n")
    os.replace(tmp, path)


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
            raise ValueError(f"resume: {changed} cannot change in a resumed run, whose optimizer, schedule and data "
                             f"order continue exactly; start a new run in another `output_dir`")  # fmt: skip
    values = {**saved, **overrides}
    return recipe(values.pop("dataset", TrainConfig.dataset), **values)
