"""MobileNetV1 and its BSConv-U variant (Sec. 4.1), as in the paper's official implementation.

Registered names: ``[cifar_]mobilenetv1_w{1,3d4,1d2,1d4}[_bsconvu]``. The ``cifar_`` models drop the
first two stride-2 steps (init conv and stage 2 at stride 1: a 32x32 input ends at 4x4, Sec. 5.1).

BSConv-U (Sec. 4.1), ``ToBSConvU(reverse_dsc=True)`` with the init conv excluded: every depthwise separable
unit (depthwise 3x3, BN, ReLU, pointwise, BN, ReLU) becomes ``BSConvU`` (pointwise, then depthwise), BN, ReLU
(``DSCUnit.to_bsconv_u``): the order of the two steps is reversed, and no BN or activation sits between them so
that the weights w_{n,m} may act with either sign. The 3x3 init conv stays regular, as in the official implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.layers import BSConvU
from blueprint.models.common import (
    BackboneClassifier,
    Classifier,
    ConvBlock,
    ModelConfig,
    depthwise_block,
    fraction_text,
    official_init,
    scaled,
)
from blueprint.models.variants import ToBSConvU


@dataclass(frozen=True)
class Stage:
    """One stage of DSC units: each unit's output channels, the first unit's stride (ImageNet, CIFAR)."""

    channels: tuple[int, ...]
    stride: int
    cifar_stride: int


STAGES = (
    Stage((64,), stride=1, cifar_stride=1),
    Stage((128, 128), stride=2, cifar_stride=1),
    Stage((256, 256), stride=2, cifar_stride=2),
    Stage((512,) * 6, stride=2, cifar_stride=2),
    Stage((1024, 1024), stride=2, cifar_stride=2),
)
WIDTHS = (1.0, 3 / 4, 1 / 2, 1 / 4)


class DSCUnit(nn.Module):
    """Depthwise separable unit: depthwise 3x3 + BN + ReLU (``conv_dw``), pointwise + BN + ReLU (``conv_pw``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv_dw = depthwise_block(in_channels, 3, stride)
        self.conv_pw = ConvBlock(in_channels, out_channels, 1)

    def forward(self, x):
        return self.conv_pw(self.conv_dw(x))

    def to_bsconv_u(self) -> "BSConvUUnit":
        """The BSConv-U unit of the same channels and stride (Sec. 4.1), for ``convert(..., reverse_dsc=True)``."""
        return BSConvUUnit(self.conv_dw.conv.in_channels, self.conv_pw.conv.out_channels, self.conv_dw.conv.stride)


class BSConvUUnit(nn.Sequential):
    """The BSConv-U unit replacing ``DSCUnit``: children ``0`` BSConvU (pw, dw), ``1`` BN, ``2`` ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__(
            BSConvU(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class MobileNetV1(BackboneClassifier):
    """data BN -> 3x3 conv -> 5 stages of units -> global average pool -> 1x1 conv classifier."""

    def __init__(self, config: MobileNetV1Config, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        channels = scaled(config.init_channels, config.width)
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        self.backbone.add_module("init_conv", ConvBlock(in_channels, channels, 3, stride=1 if config.cifar else 2))
        for stage_id, spec in enumerate(config.stages):
            stride = spec.cifar_stride if config.cifar else spec.stride
            stage = nn.Sequential()
            for unit_id, out_channels in enumerate(spec.channels):
                out_channels = scaled(out_channels, config.width)
                stage.add_module(f"unit{unit_id + 1}", DSCUnit(channels, out_channels, stride if unit_id == 0 else 1))
                channels = out_channels
            self.backbone.add_module(f"stage{stage_id + 1}", stage)
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class MobileNetV1Config(ModelConfig):
    """Width multiplier w (channels int(c * w)) and CIFAR geometry (init conv and stage 2 at stride 1)."""

    model = MobileNetV1

    width: float = 1.0
    cifar: bool = False
    init_channels: int = 32
    stages: tuple[Stage, ...] = STAGES

    @property
    def name(self) -> str:
        return f"{'cifar_' if self.cifar else ''}mobilenetv1_w{fraction_text(self.width)}"


CONFIGS = tuple(MobileNetV1Config(width, cifar) for cifar in (False, True) for width in WIDTHS)
VARIANTS = (None, ToBSConvU(reverse_dsc=True, exclude=("backbone.init_conv",)))  # the init conv stays regular
