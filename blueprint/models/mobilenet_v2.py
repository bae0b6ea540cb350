"""MobileNetV2 and its BSConv-S variant (Sec. 4.2), as in the paper's official implementation.

Registered names: ``[cifar_]mobilenetv2_w{1,3d4,1d2,1d4}[_bsconvs_p1d6]``. The ``cifar_`` models run the
init conv and stage 2 at stride 1 (a 32x32 input ends at 4x4, Sec. 5.1).

BSConv-S (Sec. 4.2), ``MarkProjections``: a linear bottleneck (expand 1x1, depthwise KxK, project 1x1) is a
BSConv-S block shifted by one step: the projection ``conv3`` of one unit is W^B, the next unit's expansion is
W^A and its depthwise convolution holds the blueprints. The architecture therefore stays exactly the same
(the same parameter count as the baseline, Table 3's note); what changes is that every projection is
marked for the orthonormal loss of Eq. (9) -- W^B of shape (out, mid), M' = out rows over M = mid
inputs. The official implementation marks every unit's projection, the first unit's included, and so does this file.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import (
    BackboneClassifier,
    Classifier,
    ConvBlock,
    InvertedResidual,
    ModelConfig,
    SEUnit,
    depthwise_block,
    fraction_text,
    official_init,
    scaled,
)
from blueprint.models.variants import MarkProjections


class LinearBottleneck(InvertedResidual):
    """Expand 1x1 + BN + act (``conv1``), depthwise KxK + BN + act (``conv2``), [SE], project 1x1 + BN (``conv3``).

    The residual skip is used when the unit keeps both shape and channels (stride 1, in == out).
    """

    def __init__(
        self, in_channels, mid_channels, out_channels, stride, activation="relu6", kernel_size=3, use_se=False
    ):
        super().__init__()
        self.use_res_skip = in_channels == out_channels and stride == 1
        self.conv1 = ConvBlock(in_channels, mid_channels, 1, activation=activation)
        self.conv2 = depthwise_block(mid_channels, kernel_size, stride, activation=activation)
        self.se_unit = SEUnit(mid_channels, mid_channels // 4) if use_se else None
        self.conv3 = ConvBlock(mid_channels, out_channels, 1, activation=None)

    @property
    def projection(self) -> ConvBlock:
        return self.conv3

    def forward(self, x):
        y = self.conv2(self.conv1(x))  # B,mid,H',W'
        if self.se_unit is not None:
            y = self.se_unit(y)
        y = self.conv3(y)  # B,out,H',W'
        return x + y if self.use_res_skip else y


@dataclass(frozen=True)
class Stage:
    """One stage of linear bottlenecks: per-unit output and expansion channels, the first unit's stride
    (ImageNet, CIFAR), and (for MobileNetV3) the kernel size, activation and per-unit squeeze-excite flags."""

    channels: tuple[int, ...]
    mid_channels: tuple[int, ...]
    stride: int
    cifar_stride: int
    kernel_size: int = 3
    activation: str = "relu6"
    se: tuple[bool, ...] | None = None


STAGES = (
    Stage((16,), (32,), stride=1, cifar_stride=1),
    Stage((24, 24), (96, 144), stride=2, cifar_stride=1),
    Stage((32, 32, 32), (144, 192, 192), stride=2, cifar_stride=2),
    Stage((64, 64, 64, 64, 96, 96, 96), (192, 384, 384, 384, 384, 576, 576), stride=2, cifar_stride=2),
    Stage((160, 160, 160, 320), (576, 960, 960, 960), stride=2, cifar_stride=2),
)
WIDTHS = (1.0, 3 / 4, 1 / 2, 1 / 4)


def bottleneck_stages(backbone: nn.Sequential, in_channels: int, stages, width: float, cifar: bool) -> int:
    """Append ``stage1``, ``stage2``, ... of ``LinearBottleneck`` units to ``backbone``; return the output channels."""
    for stage_id, spec in enumerate(stages):
        stage = nn.Sequential()
        se = spec.se or (False,) * len(spec.channels)
        stride = spec.cifar_stride if cifar else spec.stride
        for unit_id, (out_channels, mid_channels) in enumerate(zip(spec.channels, spec.mid_channels)):
            out_channels = scaled(out_channels, width)
            unit = LinearBottleneck(
                in_channels,
                scaled(mid_channels, width),
                out_channels,
                stride=stride if unit_id == 0 else 1,
                activation=spec.activation,
                kernel_size=spec.kernel_size,
                use_se=se[unit_id],
            )
            stage.add_module(f"unit{unit_id + 1}", unit)
            in_channels = out_channels
        backbone.add_module(f"stage{stage_id + 1}", stage)
    return in_channels


class MobileNetV2(BackboneClassifier):
    """data BN -> 3x3 conv (ReLU6) -> 5 stages of linear bottlenecks -> 1x1 conv (ReLU6) -> pool -> classifier."""

    def __init__(self, config: MobileNetV2Config, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        w = config.width
        init_channels = scaled(config.init_channels, w)
        final_channels = scaled(config.final_channels, w) if w > 1.0 else config.final_channels
        self.backbone.add_module("data_bn", nn.BatchNorm2d(in_channels))
        init_stride = 1 if config.cifar else 2
        self.backbone.add_module("init_conv", ConvBlock(in_channels, init_channels, 3, init_stride, activation="relu6"))
        channels = bottleneck_stages(self.backbone, init_channels, config.stages, w, config.cifar)
        self.backbone.add_module("final_conv", ConvBlock(channels, final_channels, 1, activation="relu6"))
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(final_channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class MobileNetV2Config(ModelConfig):
    """Width multiplier w (channels int(c * w); the 1280-channel final conv only grows, for w > 1) and
    CIFAR geometry (init conv and stage 2 at stride 1)."""

    model = MobileNetV2

    width: float = 1.0
    cifar: bool = False
    init_channels: int = 32
    final_channels: int = 1280
    stages: tuple[Stage, ...] = STAGES

    @property
    def name(self) -> str:
        return f"{'cifar_' if self.cifar else ''}mobilenetv2_w{fraction_text(self.width)}"


CONFIGS = tuple(MobileNetV2Config(width, cifar) for cifar in (False, True) for width in WIDTHS)
VARIANTS = (None, MarkProjections())
