"""MobileNetV3-small/large and their BSConv-S variants (Sec. 4.2), as in the paper's official implementation.

Registered names: ``[cifar_]mobilenetv3_{small,large}_w{1,3d4,1d2,7d20}[_bsconvs_p1d6]``. The official implementation
uses a light head: one 1x1 conv (576 or 960 channels, hard-swish) then pooling and the classifier, with
no extra 1024/1280-channel layer and no dropout. The ``cifar_`` models run the init conv at stride 1
and, for -large, stage 2 too. BSConv-S (``MarkProjections``) keeps the architecture and marks every
projection for the orthonormal loss, exactly as for MobileNetV2 (see ``mobilenet_v2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import (
    BackboneClassifier,
    Classifier,
    ConvBlock,
    ModelConfig,
    SEUnit,
    fraction_text,
    official_init,
    scaled,
)
from blueprint.models.mobilenet_v2 import Stage, bottleneck_stages
from blueprint.models.variants import MarkProjections

ON, OFF = True, False  # squeeze-excite per unit


@dataclass(frozen=True)
class Version:
    """MobileNetV3-small or -large: the stages, the final 1x1 conv's channels and whether an SE unit follows it."""

    stages: tuple[Stage, ...]
    final_channels: int
    final_se: bool


VERSIONS = {
    "small": Version(
        (
            Stage((16,), (16,), 2, 1, 3, "relu", (ON,)),
            Stage((24, 24), (72, 88), 2, 2, 3, "relu", (OFF, OFF)),
            Stage((40, 40, 40, 48, 48), (96, 240, 240, 120, 144), 2, 2, 5, "hswish", (ON,) * 5),
            Stage((96, 96, 96), (288, 576, 576), 2, 2, 5, "hswish", (ON,) * 3),
        ),
        final_channels=576,
        final_se=True,
    ),
    "large": Version(
        (
            Stage((16,), (16,), 1, 1, 3, "relu", (OFF,)),
            Stage((24, 24), (64, 72), 2, 1, 3, "relu", (OFF, OFF)),
            Stage((40, 40, 40), (72, 120, 120), 2, 2, 5, "relu", (ON,) * 3),
            Stage((80, 80, 80, 80, 112, 112), (240, 200, 184, 184, 480, 672), 2, 2, 3, "hswish", (OFF,) * 4 + (ON, ON)),
            Stage((160, 160, 160), (672, 960, 960), 2, 2, 5, "hswish", (ON,) * 3),
        ),
        final_channels=960,
        final_se=False,
    ),
}  # Stage(channels, mid_channels, stride, cifar_stride, kernel_size, activation, se)
WIDTHS = (1.0, 3 / 4, 1 / 2, 7 / 20)


class MobileNetV3(BackboneClassifier):
    """data BN -> 3x3 conv (h-swish) -> linear bottleneck stages -> 1x1 conv (h-swish) [-> SE] -> pool -> classifier."""

    def __init__(self, config: MobileNetV3Config, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        version, w = VERSIONS[config.version], config.width
        init_channels = scaled(config.init_channels, w)
        final_channels = scaled(version.final_channels, w) if w > 1.0 else version.final_channels
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        init_stride = 1 if config.cifar else 2
        init_conv = ConvBlock(in_channels, init_channels, 3, init_stride, activation="hswish")
        self.backbone.add_module("init_conv", init_conv)
        channels = bottleneck_stages(self.backbone, init_channels, version.stages, w, config.cifar)
        self.backbone.add_module("final_conv1", ConvBlock(channels, final_channels, 1, activation="hswish"))
        if version.final_se:
            self.backbone.add_module("final_se", SEUnit(final_channels, final_channels // 4))
        self.backbone.add_module("final_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(final_channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class MobileNetV3Config(ModelConfig):
    """Version (small/large), width multiplier w (channels int(c * w); the final conv only grows, for
    w > 1) and CIFAR geometry."""

    model = MobileNetV3

    version: str = "large"
    width: float = 1.0
    cifar: bool = False
    init_channels: int = 16

    def __post_init__(self):
        if self.version not in VERSIONS:
            raise ValueError(f"version: expected one of {sorted(VERSIONS)}, got {self.version!r}")

    @property
    def name(self) -> str:
        return f"{'cifar_' if self.cifar else ''}mobilenetv3_{self.version}_w{fraction_text(self.width)}"


CONFIGS = tuple(MobileNetV3Config(v, width, cifar) for cifar in (False, True) for v in VERSIONS for width in WIDTHS)
VARIANTS = (None, MarkProjections())
