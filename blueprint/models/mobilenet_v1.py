"""MobileNetV1 and its BSConv-U variant (Sec. 4.1), as in the paper's reference implementation.

Registered names: ``[cifar_]mobilenetv1_w{1,3d4,1d2,1d4}[_bsconvu]``. The ``cifar_`` models drop the
first two stride-2 steps (init conv and stage 2 at stride 1: a 32x32 input ends at 4x4, Sec. 5.1).

BSConv-U (Sec. 4.1): every depthwise separable unit (depthwise 3x3, BN, ReLU, pointwise, BN, ReLU)
becomes ``BSConvU`` (pointwise, then depthwise), BN, ReLU: the order of the two steps is reversed, and
no BN or activation sits between them so that the weights w_{n,m} may act with either sign.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch.nn as nn

from blueprint.layers import BSConvU
from blueprint.models.common import Classifier, ConvBlock, depthwise_block, fraction, reference_init, scaled
from blueprint.models.registry import add

STAGE_CHANNELS = ((64,), (128, 128), (256, 256), (512,) * 6, (1024, 1024))


@dataclass(frozen=True)
class MobileNetV1Config:
    """Width multiplier w (channels int(c * w)), CIFAR geometry, and whether units are BSConv-U."""

    width: float = 1.0
    cifar: bool = False
    bsconvu: bool = False
    init_channels: int = 32

    @property
    def init_stride(self) -> int:
        return 1 if self.cifar else 2

    @property
    def strides(self) -> tuple[int, ...]:
        """The stride of each stage's first unit."""
        return (1, 1, 2, 2, 2) if self.cifar else (1, 2, 2, 2, 2)


class DSCUnit(nn.Module):
    """Depthwise separable unit: depthwise 3x3 + BN + ReLU (``conv_dw``), pointwise + BN + ReLU (``conv_pw``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv_dw = depthwise_block(in_channels, 3, stride)
        self.conv_pw = ConvBlock(in_channels, out_channels, 1)

    def forward(self, x):
        return self.conv_pw(self.conv_dw(x))


class BSConvUUnit(nn.Sequential):
    """The BSConv-U unit replacing ``DSCUnit``: children ``0`` BSConvU (pw, dw), ``1`` BN, ``2`` ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            BSConvU(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class MobileNetV1(nn.Module):
    """data BN -> 3x3 conv -> 5 stages of units -> global average pool -> 1x1 conv classifier."""

    def __init__(self, config: MobileNetV1Config, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.config = config
        unit = BSConvUUnit if config.bsconvu else DSCUnit
        channels = scaled(config.init_channels, config.width)
        self.backbone = nn.Sequential()
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        self.backbone.add_module("init_conv", ConvBlock(in_channels, channels, 3, stride=config.init_stride))
        for stage_id, (stage_channels, stride) in enumerate(zip(STAGE_CHANNELS, config.strides)):
            stage = nn.Sequential()
            for unit_id, out_channels in enumerate(stage_channels):
                out_channels = scaled(out_channels, config.width)
                stage.add_module(f"unit{unit_id + 1}", unit(channels, out_channels, stride if unit_id == 0 else 1))
                channels = out_channels
            self.backbone.add_module(f"stage{stage_id + 1}", stage)
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(channels, num_classes)
        reference_init(self.backbone, self.classifier)

    def forward(self, x):
        return self.classifier(self.backbone(x))  # B,3,H,W -> B,C,1,1 -> B,num_classes


WIDTHS = ("1", "3d4", "1d2", "1d4")


def _register():
    for prefix in ("", "cifar_"):
        for width in WIDTHS:
            for suffix in ("", "_bsconvu"):
                config = MobileNetV1Config(width=fraction(width), cifar=bool(prefix), bsconvu=bool(suffix))
                add(f"{prefix}mobilenetv1_w{width}{suffix}", partial(MobileNetV1, config))


_register()
