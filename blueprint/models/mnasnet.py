"""MnasNet (1.0) and its BSConv-S variant (Table 4, Sec. 4.2 and 5.3).

Registered names: ``mnasnet[_bsconvs_p1d6]``. The baseline is Tan et al.'s MnasNet-B1 at depth multiplier 1.0
as in torchvision's ``mnasnet1_0`` (4,383,312 parameters at 1000 classes; no squeeze-excite, ReLU
throughout): a 3x3/2 conv (32 channels, BN, ReLU), a depthwise separable unit (depthwise 3x3 + BN + ReLU,
pointwise to 16 + BN, linear), six stages of MBConv units (expansion, kernel, stride, channels, units:
3-3-2-24-3, 3-5-2-40-3, 6-5-2-80-3, 6-3-1-96-2, 6-5-2-192-4, 6-3-1-320-1), a 1x1 conv to 1280 channels (BN,
ReLU), global average pooling, dropout 0.2 and a linear classifier (here a 1x1 convolution with bias).
Differences from torchvision: BatchNorm keeps PyTorch's defaults (torchvision uses momentum 0.0003), and the
weights start from the zoo's ``reference_init``.

The depthwise separable unit is the MBConv unit with expansion ratio 1, which is how it is built here.

BSConv-S (Sec. 4.2): as for EfficientNet-B0 (see ``efficientnet``): unchanged architecture, every unit's
projection (the separable unit's pointwise convolution included) marked for the orthonormal loss of Eq. (9).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch.nn as nn

from blueprint.models.common import Classifier, ConvBlock, reference_init
from blueprint.models.efficientnet import MBConv, MBStage, mark_projections
from blueprint.models.registry import add


@dataclass(frozen=True)
class MnasNetConfig:
    """MnasNet-B1 1.0: the separable unit and the MBConv stages, stem and head widths, dropout."""

    stages: tuple[MBStage, ...] = (
        MBStage(1, 3, 1, 16, 1),
        MBStage(3, 3, 2, 24, 3),
        MBStage(3, 5, 2, 40, 3),
        MBStage(6, 5, 2, 80, 3),
        MBStage(6, 3, 1, 96, 2),
        MBStage(6, 5, 2, 192, 4),
        MBStage(6, 3, 1, 320, 1),
    )
    init_channels: int = 32
    final_channels: int = 1280
    dropout: float = 0.2
    bsconvs: bool = False


class MnasNet(nn.Module):
    """3x3/2 conv -> separable unit -> MBConv stages (ReLU) -> 1x1 conv -> pool -> dropout -> classifier."""

    def __init__(self, config: MnasNetConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__()
        self.config = config
        channels = config.init_channels
        self.backbone = nn.Sequential()
        self.backbone.add_module("init_conv", ConvBlock(in_channels, channels, 3, stride=2))
        for stage_id, spec in enumerate(config.stages):
            stage = nn.Sequential()
            for unit_id in range(spec.units):
                stride = spec.stride if unit_id == 0 else 1
                unit = MBConv(channels, channels * spec.expansion, spec.channels, spec.kernel_size, stride, "relu")
                stage.add_module(f"unit{unit_id + 1}", unit)
                channels = spec.channels
            self.backbone.add_module(f"stage{stage_id + 1}", stage)
        self.backbone.add_module("final_conv", ConvBlock(channels, config.final_channels, 1))
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.backbone.add_module("dropout", nn.Dropout(config.dropout))
        self.classifier = Classifier(config.final_channels, num_classes)
        reference_init(self.backbone, self.classifier)
        if config.bsconvs:
            mark_projections(self)

    def forward(self, x):
        return self.classifier(self.backbone(x))  # B,3,H,W -> B,1280,1,1 -> B,num_classes


def _register():
    add("mnasnet", partial(MnasNet, MnasNetConfig()))
    add("mnasnet_bsconvs_p1d6", partial(MnasNet, MnasNetConfig(bsconvs=True)))


_register()
