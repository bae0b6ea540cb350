"""MobileNetV3-small/large and their BSConv-S variants (Sec. 4.2), as in the paper's reference implementation.

Registered names: ``[cifar_]mobilenetv3_{small,large}_w{1,3d4,1d2,7d20}[_bsconvs_p1d6]``. The reference
uses a light head: one 1x1 conv (576 or 960 channels, hard-swish) then pooling and the classifier, with
no extra 1024/1280-channel layer and no dropout. The ``cifar_`` models run the init conv at stride 1
and, for -large, stage 2 too. BSConv-S keeps the architecture and marks every projection for the
orthonormal loss, exactly as for MobileNetV2 (see ``mobilenet_v2``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch.nn as nn

from blueprint.models.common import Classifier, ConvBlock, SEUnit, fraction, reference_init, scaled
from blueprint.models.mobilenet_v2 import StageSpec, bottleneck_stages, mark_projections
from blueprint.models.registry import add

_SMALL = dict(
    channels=((16,), (24, 24), (40, 40, 40, 48, 48), (96, 96, 96)),
    mids=((16,), (72, 88), (96, 240, 240, 120, 144), (288, 576, 576)),
    kernel_sizes=(3, 3, 5, 5),
    activations=("relu", "relu", "hswish", "hswish"),
    se=((1,), (0, 0), (1, 1, 1, 1, 1), (1, 1, 1)),
    strides=(2, 2, 2, 2),
    cifar_strides=(1, 2, 2, 2),
    final_channels=576,
    final_se=True,
)
_LARGE = dict(
    channels=((16,), (24, 24), (40, 40, 40), (80, 80, 80, 80, 112, 112), (160, 160, 160)),
    mids=((16,), (64, 72), (72, 120, 120), (240, 200, 184, 184, 480, 672), (672, 960, 960)),
    kernel_sizes=(3, 3, 5, 3, 5),
    activations=("relu", "relu", "relu", "hswish", "hswish"),
    se=((0,), (0, 0), (1, 1, 1), (0, 0, 0, 0, 1, 1), (1, 1, 1)),
    strides=(1, 2, 2, 2, 2),
    cifar_strides=(1, 1, 2, 2, 2),
    final_channels=960,
    final_se=False,
)


@dataclass(frozen=True)
class MobileNetV3Config:
    """Version (small/large), width multiplier w (channels int(c * w); the final conv only grows, for
    w > 1), CIFAR geometry, and whether projections carry the BSConv-S orthonormal loss."""

    version: str = "large"
    width: float = 1.0
    cifar: bool = False
    bsconvs: bool = False
    init_channels: int = 16

    def __post_init__(self):
        if self.version not in ("small", "large"):
            raise ValueError(f"version: expected 'small' or 'large', got {self.version!r}")

    @property
    def table(self) -> dict:
        return _SMALL if self.version == "small" else _LARGE

    @property
    def stages(self) -> tuple[StageSpec, ...]:
        t = self.table
        strides = t["cifar_strides"] if self.cifar else t["strides"]
        columns = zip(t["channels"], t["mids"], strides, t["kernel_sizes"], t["activations"], t["se"])
        return tuple(StageSpec(c, m, s, k, a, tuple(bool(u) for u in se)) for c, m, s, k, a, se in columns)


class MobileNetV3(nn.Module):
    """data BN -> 3x3 conv (h-swish) -> linear bottleneck stages -> 1x1 conv (h-swish) [-> SE] -> pool -> classifier."""

    def __init__(self, config: MobileNetV3Config, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.config = config
        w = config.width
        init_channels = scaled(config.init_channels, w)
        final_channels = config.table["final_channels"]
        final_channels = scaled(final_channels, w) if w > 1.0 else final_channels
        self.backbone = nn.Sequential()
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        init_stride = 1 if config.cifar else 2
        init_conv = ConvBlock(in_channels, init_channels, 3, init_stride, activation="hswish")
        self.backbone.add_module("init_conv", init_conv)
        channels = bottleneck_stages(self.backbone, init_channels, config.stages, w)
        self.backbone.add_module("final_conv1", ConvBlock(channels, final_channels, 1, activation="hswish"))
        if config.table["final_se"]:
            self.backbone.add_module("final_se", SEUnit(final_channels, final_channels // 4))
        self.backbone.add_module("final_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(final_channels, num_classes)
        reference_init(self.backbone, self.classifier)
        if config.bsconvs:
            mark_projections(self)

    def forward(self, x):
        return self.classifier(self.backbone(x))  # B,3,H,W -> B,C,1,1 -> B,num_classes


WIDTHS = ("1", "3d4", "1d2", "7d20")


def _register():
    for prefix in ("", "cifar_"):
        for version in ("small", "large"):
            for width in WIDTHS:
                for suffix in ("", "_bsconvs_p1d6"):
                    config = MobileNetV3Config(version, fraction(width), cifar=bool(prefix), bsconvs=bool(suffix))
                    add(f"{prefix}mobilenetv3_{version}_w{width}{suffix}", partial(MobileNetV3, config))


_register()
