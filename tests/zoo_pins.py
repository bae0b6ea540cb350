"""What ``tests/zoo_pins.json`` pins about the zoo, and how to write it again.

The pins hold every model of the zoo to fixed layouts, computations and initializations, so that a change to
the zoo's code (a family, a transform, the converter) that changes a model fails ``tests/test_zoo_pins.py``:

- ``layouts``: for every registered name, its default class count, input size, parameter count, and digests
  of its ``state_dict`` keys with shapes, of its module paths and of its weights under the orthonormal loss;
- ``forward``: for representative models of every family and variant, the logits on a fixed input when every
  tensor of the ``state_dict`` holds values drawn from its own key (``given_weights``): the forward computation;
- ``init``: for the same models, created after ``torch.manual_seed(0)``, the mean and standard deviation of
  every parameter: which initialization each tensor got (Kaiming, Xavier, PyTorch's default, zero, one), and so
  the order the official implementation initializes in (baseline first, BSConv modules afterwards).

Regenerate (only when a model is meant to change): ``.venv/bin/python tests/zoo_pins.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from pathlib import Path

import torch
import torch.nn as nn

PINS = Path(__file__).with_name("zoo_pins.json")
NUM_CLASSES = 10  # the representative models' classifier width (ImageNet ones included: ten logits to compare)
FORWARD_MODELS = (
    "digits_cnn",
    "digits_cnn_bsconvu",
    "digits_cnn_bsconvs_p1d4",
    "cifar_tiny_cnn_bsconvs_p1d2",
    "cifar_resnet20",
    "cifar_resnet20_bsconvu",
    "cifar_resnet20_bsconvs_p1d4",
    "cifar_preresnet20_bsconvs_p1d8",
    "cifar_wrn16_2_bsconvu",
    "resnet10_bsconvs_p1d8",
    "preresnet10_bsconvu",
    "cifar_mobilenetv1_w1d4",
    "cifar_mobilenetv1_w1d4_bsconvu",
    "mobilenetv1_w1d4_bsconvu",
    "cifar_mobilenetv2_w1d4",
    "cifar_mobilenetv2_w1d4_bsconvs_p1d6",
    "mobilenetv2_w1d4_bsconvs_p1d6",
    "cifar_mobilenetv3_small_w7d20",
    "cifar_mobilenetv3_small_w7d20_bsconvs_p1d6",
    "mobilenetv3_large_w7d20_bsconvs_p1d6",
    "densenet121_bsconvu",
    "xception_bsconvu",
    "efficientnet_b0_bsconvs_p1d6",
    "mnasnet_bsconvs_p1d6",
    "vgg16_bn@hidden64",
    "vgg16_bn_bsconvu@hidden64",
)


def digest(lines) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def layout(name: str) -> dict:
    """What a name builds on the meta device: classes, input size, parameters and three digests."""
    from blueprint.models import create, default_num_classes, input_size
    from blueprint.regularization import regularized_weights

    with torch.device("meta"):
        model = create(name)
    return {
        "num_classes": default_num_classes(name),
        "input_size": list(input_size(name)),
        "params": sum(p.numel() for p in model.parameters()),
        "state": digest(f"{k} {tuple(v.shape)} {v.dtype}" for k, v in model.state_dict().items()),
        "modules": digest(f"{n}" for n, _ in model.named_modules()),
        "orthonormal": digest(n for n, _ in regularized_weights(model)),
    }


def given_weights(model: nn.Module) -> nn.Module:
    """Fill every floating-point tensor of ``model.state_dict()`` from a generator seeded by its key.

    Weights of rank >= 2 get N(0, 2 / fan_in); BN scales and running variances 1 + 0.1 x; other vectors 0.1 x.
    """
    model = model.eval()
    with torch.no_grad():
        for key, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            g = torch.Generator().manual_seed(zlib.crc32(key.encode()))
            x = torch.randn(tensor.shape, generator=g, dtype=torch.float64)
            if tensor.dim() >= 2:
                value = x * math.sqrt(2.0 / (tensor[0].numel()))
            elif key.endswith("running_var"):
                value = 1.0 + 0.1 * x.abs()
            elif key.endswith("weight"):
                value = 1.0 + 0.1 * x
            else:
                value = 0.1 * x
            tensor.copy_(value)
    return model


def fixed_input(name: str) -> torch.Tensor:
    """One image of the name's input channels: 8x8 for the digits models, 32x32 for every other."""
    from blueprint.models import input_size

    channels, side = input_size(name)[0], 8 if name.startswith("digits") else 32
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, channels, side, side, generator=g, dtype=torch.float64).float()


def build(case: str) -> nn.Module:
    """``case`` created after ``torch.manual_seed(0)`` with ``NUM_CLASSES`` classes; ``NAME@hidden64`` is VGG
    ``NAME`` with a 64-wide classifier (the registered 4096 would hold 120M parameters)."""
    from blueprint.models import create

    torch.manual_seed(0)
    if not case.endswith("@hidden64"):
        return create(case, num_classes=NUM_CLASSES)
    from blueprint.models.variants import ToBSConvU
    from blueprint.models.vgg import VGGConfig

    baseline = VGGConfig(hidden=64).build(NUM_CLASSES)
    return ToBSConvU()(baseline) if case.startswith("vgg16_bn_bsconvu") else baseline


def init_statistics(model: nn.Module) -> dict[str, list[float]]:
    """``{parameter name: [mean, std]}`` (std 0 for one element)."""
    return {k: [rounded(p.mean()), rounded(p.std()) if p.numel() > 1 else 0.0] for k, p in model.named_parameters()}


def rounded(x: torch.Tensor) -> float:
    """Four significant digits: statistics of a random initialization are compared with a tolerance."""
    return float(f"{x.item():.4g}")


def logits(model: nn.Module, case: str) -> list[float]:
    """The logits of ``given_weights(model)`` (which it changes) on ``fixed_input``, in evaluation mode."""
    with torch.no_grad():
        return given_weights(model)(fixed_input(case.split("@")[0]))[0].tolist()


def write() -> None:
    from blueprint.models import list_models

    pins = {"layouts": {name: layout(name) for name in list_models()}, "forward": {}, "init": {}}
    for case in FORWARD_MODELS:
        model = build(case)
        pins["init"][case] = init_statistics(model)
        pins["forward"][case] = logits(model, case)
    PINS.write_text(dumps(pins))
    print(f"wrote {PINS}: {len(pins['layouts'])} layouts, {len(FORWARD_MODELS)} forward and init pins")


def dumps(pins: dict) -> str:
    """JSON with one line per pinned model, so that a change shows which models it touched."""
    sections = []
    for section, entries in sorted(pins.items()):
        lines = [
            f" {json.dumps(k)}: {json.dumps(v, sort_keys=True, separators=(',', ':'))}" for k, v in entries.items()
        ]
        sections.append(f"{json.dumps(section)}: {{\n" + ",\n".join(lines) + "\n}")
    return "{\n" + ",\n".join(sections) + "\n}\n"


if __name__ == "__main__":
    write()
