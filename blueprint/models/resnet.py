"""ResNets, pre-activation ResNets and WideResNets with BSConv-U/-S drop-in convolutions (Sec. 5.1-5.2).

As in the paper's official implementation, one builder serves the whole family:

- ``resnet{10,18,26,34,68,102}``: ImageNet geometry -- 7x7/2 conv + 3x3/2 max-pool, four stages of basic
  units with 64, 128, 256, 512 channels; ``preresnet...`` the same with pre-activation units.
- ``cifar_resnet{20,56,110,302,602}``: 3x3 conv, three stages of (depth - 2) / 6 units with 16, 32, 64
  channels; ``cifar_preresnet...`` with pre-activation units.
- ``cifar_wrn{16,28,40}_{k}``: pre-activation, three stages of (depth - 4) / 6 units with 16k, 32k, 64k
  channels (the 16-channel init conv is not widened).

Every model has a BatchNorm on the input ("data BN"), 1x1 projection shortcuts where the shape changes, and
a 1x1-conv classifier. Each is registered with the official code's variants (``variants``): ``_bsconvu`` converts
each 3x3 convolution to BSConv-U (no inner BN), ``_bsconvs_p1d4`` and ``_bsconvs_p1d8`` to BSConv-S with
p = 1/4, 1/8 (with inner BN); the 7x7 init conv and the 1x1 projections stay regular (``convert``'s rule).
BSConv-S layers carry the orthonormal loss through ``BSConvS.orthonormal_weights()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import BackboneClassifier, Classifier, ConvBlock, ModelConfig, official_init, scaled
from blueprint.models.variants import ToBSConvS, ToBSConvU

IMAGENET_UNITS = {
    10: (1, 1, 1, 1),
    18: (2, 2, 2, 2),
    26: (3, 3, 3, 3),
    34: (3, 4, 6, 3),
    68: (3, 4, 23, 3),
    102: (3, 8, 36, 3),
}
CIFAR_RESNET_DEPTHS = (20, 56, 110, 302, 602)  # (depth - 2) / 6 units per stage
WRN_DEPTHS = (16, 28, 40)  # (depth - 4) / 6 units per stage
# The official code parses any width k; these are the ones it names (README and model provider) plus k = 3 of Table 2.
WRN_WIDTHS = (1, 2, 3, 4, 6, 8, 10, 12)
# The BSConv variants the official implementation names: U, and S with p = 1/4 and 1/8.
VARIANTS = (None, ToBSConvU(), ToBSConvS(1 / 4), ToBSConvS(1 / 8))


class StandardUnit(nn.Module):
    """Basic residual unit: relu(conv-BN-relu -> conv-BN  +  shortcut), shortcut = 1x1 conv-BN if the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = ConvBlock(in_channels, out_channels, 3, stride)
        self.conv2 = ConvBlock(out_channels, out_channels, 3, activation=None)
        project = in_channels != out_channels or stride != 1
        self.projection = ConvBlock(in_channels, out_channels, 1, stride, activation=None) if project else None
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        residual = x if self.projection is None else self.projection(x)  # B,N,H',W'
        return self.relu(self.conv2(self.conv1(x)) + residual)


class PreactUnit(nn.Module):
    """Pre-activation unit: conv-BN-relu -> conv of relu(BN(x)), plus x (or a 1x1 conv of relu(BN(x)))."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv1 = ConvBlock(in_channels, out_channels, 3, stride)
        self.conv2 = ConvBlock(out_channels, out_channels, 3, use_bn=False, activation=None)
        project = in_channels != out_channels or stride != 1
        self.projection = (
            ConvBlock(in_channels, out_channels, 1, stride, use_bn=False, activation=None) if project else None
        )

    def forward(self, x):
        pre = self.relu(self.bn(x))
        residual = x if self.projection is None else self.projection(pre)  # B,N,H',W'
        return self.conv2(self.conv1(pre)) + residual


class PostActivation(nn.Sequential):
    """BN + ReLU after the last pre-activation unit. Children: bn, relu."""

    def __init__(self, channels: int):
        super().__init__()
        self.add_module("bn", nn.BatchNorm2d(channels))
        self.add_module("relu", nn.ReLU(inplace=True))


class InitUnitLarge(nn.Module):
    """ImageNet stem: 7x7/2 conv-BN-relu (never replaced by BSConv), then 3x3/2 max-pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = ConvBlock(in_channels, out_channels, 7, stride=2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pool(self.conv(x))  # B,M,H,W -> B,64,H/4,W/4


class InitUnitSmall(nn.Module):
    """CIFAR stem: 3x3 conv (BN-relu after it, unless pre-activation units follow)."""

    def __init__(self, in_channels: int, out_channels: int, preact: bool):
        super().__init__()
        self.conv = ConvBlock(in_channels, out_channels, 3, use_bn=not preact, activation=None if preact else "relu")

    def forward(self, x):
        return self.conv(x)


class ResNet(BackboneClassifier):
    """data BN -> stem -> stages (first unit of stages 2+ at stride 2) -> [BN-relu] -> pool -> classifier."""

    def __init__(self, config: ResNetConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        unit = PreactUnit if config.preact else StandardUnit
        channels = config.init_channels
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        if config.cifar:
            stem = InitUnitSmall(in_channels, channels, config.preact)
        else:
            stem = InitUnitLarge(in_channels, channels)
        self.backbone.add_module("init_unit", stem)
        for stage_id, (count, out_channels) in enumerate(zip(config.units, config.stage_channels)):
            stage = nn.Sequential()
            for unit_id in range(count):
                stride = 2 if unit_id == 0 and stage_id != 0 else 1
                stage.add_module(f"unit{unit_id + 1}", unit(channels, out_channels, stride))
                channels = out_channels
            self.backbone.add_module(f"stage{stage_id + 1}", stage)
        if config.preact:
            self.backbone.add_module("final_activation", PostActivation(channels))
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class ResNetConfig(ModelConfig):
    """A ResNet by its depth: ImageNet geometry (``IMAGENET_UNITS[depth]``) or CIFAR geometry (``cifar``,
    (depth - 2) / 6 units per stage), with pre-activation units (``preact``); ``widen`` = k makes the CIFAR
    WideResNet WRN-depth-k (pre-activation, (depth - 4) / 6 units per stage, k times the channels)."""

    model = ResNet

    depth: int
    preact: bool = False
    cifar: bool = False
    widen: int | None = None

    def __post_init__(self):
        if self.widen is not None and not (self.cifar and self.preact):
            raise ValueError(f"widen: a WideResNet has pre-activation CIFAR units, got {self!r}")
        blocks = self.depth - (4 if self.widen else 2)
        if self.cifar and (blocks <= 0 or blocks % 6):
            raise ValueError(f"depth: expected {'4' if self.widen else '2'} + 6 n for n >= 1, got {self.depth!r}")
        if not self.cifar and self.depth not in IMAGENET_UNITS:
            raise ValueError(f"depth: expected one of {sorted(IMAGENET_UNITS)}, got {self.depth!r}")

    @property
    def name(self) -> str:
        if self.widen is not None:
            return f"cifar_wrn{self.depth}_{self.widen}"
        return f"{'cifar_' if self.cifar else ''}{'pre' if self.preact else ''}resnet{self.depth}"

    @property
    def units(self) -> tuple[int, ...]:
        if not self.cifar:
            return IMAGENET_UNITS[self.depth]
        return ((self.depth - (4 if self.widen else 2)) // 6,) * 3

    @property
    def init_channels(self) -> int:
        return 16 if self.cifar else 64

    @property
    def stage_channels(self) -> tuple[int, ...]:
        base = (16, 32, 64) if self.cifar else (64, 128, 256, 512)
        return tuple(scaled(c, float(self.widen or 1)) for c in base)


CONFIGS = (
    *(ResNetConfig(depth, preact) for preact in (False, True) for depth in IMAGENET_UNITS),
    *(ResNetConfig(depth, preact, cifar=True) for preact in (False, True) for depth in CIFAR_RESNET_DEPTHS),
    *(ResNetConfig(depth, True, True, k) for depth in WRN_DEPTHS for k in WRN_WIDTHS),
)
