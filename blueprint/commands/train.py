"""``blueprint train``: train a zoo model with the paper's protocol for a data set (see ``blueprint.training``).

``--model`` is required (a new run); flags left out take the recipe's value (``blueprint.training.config``), or
with ``--resume`` the value saved in ``OUTPUT_DIR/config.json``. Several processes:
``torchrun --nproc-per-node N -m blueprint.cli train ...``.
"""
from __future__ import annotations

import argparse
import os

from blueprint.training.config import DATASETS, SCHEDULES


def _milestones(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs such as 100,150,180, got {text!r}") from None


# flag -> (type, help); every one defaults to None, meaning "the recipe's value"
OVERRIDES = {
    "dataset": (str, f"data set, which picks the recipe: {', '.join(DATASETS)} (default: cifar10)"),
    "data_dir": (str, "folder with cifar-10-batches-py/ or cifar-100-python/, or ImageFolder train/ and val/ "
                 "(default: data)"),
    "model": (str, "zoo model name (see `blueprint models`); required unless --resume"),
    "output_dir": (str, "where config.json, metrics.csv, last.pt, best.pt and curves.png go (default: runs/train)"),
    "epochs": (int, "total epochs (with --resume: train until this epoch)"),
    "batch_size": (int, "global batch size, split over the processes"),
    "lr": (float, "initial learning rate"),
    "momentum": (float, "SGD momentum"),
    "weight_decay": (float, "SGD weight decay"),
    "schedule": (str, f"learning-rate schedule: {', '.join(SCHEDULES)}"),
    "milestones": (_milestones, "epochs at which a 'step' schedule multiplies the lr by --lr-decay, e.g. 100,150,180"),
    "lr_decay": (float, "factor of a 'step' schedule"),
    "alpha": (float, "weight of the orthonormal loss, Eq. (9)"),
    "init_from": (str, "a checkpoint of --model's baseline (e.g. digits_cnn for digits_cnn_bsconvu): the run starts from "
                  "it converted by SVD, BatchNorm recalibrated"),
    "distill_from": (str, "a checkpoint of a teacher (often the --init-from file): distill from its logits"),
    "distill_temperature": (float, "temperature T of the distillation loss (default: 4)"),
    "distill_weight": (float, "weight a of the distillation loss: (1 - a) CE + a T^2 KL (default: 0.9)"),
    "shift": (int, "CIFAR/digits: random shifts of up to this many pixels"),
    "resize": (int, "image folders: short side before cropping"),
    "crop": (int, "image folders: crop size"),
    "scale_min": (float, "image folders: > 0 for Inception-style crops of scale_min..1 of the area"),
    "color_jitter": (float, "image folders: brightness/contrast/saturation jitter strength"),
    "gamma": (float, "image folders: random gamma from [1/(1+g), 1+g]"),
    "device": (str, "auto, cpu, cuda or cuda:N (default: auto: a GPU when PyTorch sees one, under torchrun the "
               "local rank's; the CPU with --backend accel)"),
    "backend": (str, "kernels of the BSConv layers on the CPU: torch (default) or accel (Numba, fused)"),
    "workers": (int, "image folders: data-loading processes (default: the cores available less one)"),
    "threads": (int, "CPU threads of PyTorch (0: its default)"),
    "seed": (int, "seed of initialization, data order and augmentation"),
}
SWITCHES = {
    "flip": "random horizontal flips",
    "amp": "mixed precision (bfloat16 on the CPU and on GPUs that have it, else float16 with a gradient scaler)",
    "channels_last": "channels-last memory layout",
    "compile": "torch.compile the model",
    "sync_bn": "several GPUs: BatchNorm statistics over the global batch (SyncBatchNorm)",
    "deterministic": "deterministic algorithms only (cuDNN, cuBLAS): a GPU run repeats bit for bit, a little slower",
    "download": "download CIFAR into --data-dir if it is not there",
}


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a zoo model with the paper's protocol (CIFAR, ImageNet, fine-grained, digits)",
        description="Trains a zoo model with the paper's protocol for the data set (Sec. 5). Flags left out take "
        "the recipe's value, or with --resume the run's. Several processes: torchrun --nproc-per-node N "
        "-m blueprint.cli train ...",
    )
    for name, (kind, text) in OVERRIDES.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, default=None, help=text)
    for name, text in SWITCHES.items():
        p.add_argument("--" + name.replace("_", "-"), dest=name, action=argparse.BooleanOptionalAction, default=None,
                       help=text)  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue the run in --output-dir from its last.pt")
    p.add_argument("--overwrite", action="store_true", help="start afresh in an --output-dir that holds a run")
    p.set_defaults(func=run, parser=p)


def run(args) -> int:
    if args.model is None and not args.resume:
        args.parser.error("--model: required for a new run (a zoo name, see `blueprint models`)")
    from blueprint.training import effective_config, fit

    overrides = {name: getattr(args, name) for name in [*OVERRIDES, *SWITCHES] if getattr(args, name) is not None}
    config = effective_config(overrides, resume=args.resume)
    result = fit(config, resume=args.resume, overwrite=args.overwrite)
    if result.history and int(os.environ.get("RANK", "0")) == 0:
        last = result.history[-1]
        print(f"done: test accuracy {last['test_acc']:.2%} after epoch {last['epoch']}, best {result.best_acc:.2%}; "
              f"results in {config.output_dir}")  # fmt: skip
    return 0
