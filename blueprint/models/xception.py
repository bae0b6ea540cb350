"""Xception and its BSConv-U variant (Table 4, Sec. 4.1 and 5.3).

Registered names: ``xception[_bsconvu]``. The baseline is Chollet's Xception ("Xception: Deep learning with
depthwise separable convolutions", CVPR 2017, Fig. 5) in its commonly used implementation (Keras
Applications, and its PyTorch ports in pretrainedmodels and timm's ``legacy_xception``): 22,855,952
parameters at 1000 classes, the figure of Table 3 of Chollet's paper (the "22.9M"; Keras reports 22,910,480
because it also counts BatchNorm's running statistics). Its "separable convolutions" are depthwise separable
convolutions (DSC: depthwise 3x3, then pointwise, no BN or activation between them) -- the "*" of Table 4.

- entry flow: 3x3/2 conv (32, no padding) and 3x3 conv (64, no padding), each BN + ReLU; three residual
  blocks 64->128, 128->256, 256->728 of two separable units and a 3x3/2 max-pool, with a 1x1/2 conv + BN
  shortcut; the first block starts without ReLU;
- middle flow: eight blocks of three separable units at 728 channels with identity shortcuts;
- exit flow: a block 728->(728, 1024) with max-pool and 1x1/2 shortcut, then separable 1536 and 2048 units
  each with BN + ReLU, global average pooling and a linear classifier (here a 1x1 convolution with bias).
A separable unit is [ReLU] -> separable conv -> BN. The weights start from the zoo's ``official_init``.

BSConv-U (Sec. 4.1 applied to Table 4's Xception), ``ToBSConvU(reverse_dsc=True)``: as for MobileNetV1, every
DSC becomes BSConv-U, the same two factors in reversed order (pointwise, then depthwise) without BN or
activation between them, and, as in the other Table 4 models, the two regular 3x3 convolutions of the entry
flow become BSConv-U too (``convert``'s rule); the 1x1 shortcuts stay. Reversing a DSC from M to N channels changes its
depthwise weights from M * 9 to N * 9, which adds 17,856 parameters over the widening units; the two entry
convolutions save 16,288, so the BSConv-U model has 1,568 parameters *more* (22,857,520; both "22.9M"),
while its multiply-adds at 299x299 fall by 3.8% (8.36G -> 8.04G; the 32->64 conv at 147x147 dominates the
saving). Replacing only the entry convolutions would leave the DSCs that Table 4's "*" points at; reversing
only the DSCs would raise both parameters and FLOPs, against Table 4's caption ("fewer parameters and a
smaller computational complexity").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.layers import DSConv
from blueprint.models.common import BackboneClassifier, Classifier, ConvBlock, ModelConfig, official_init
from blueprint.models.variants import ToBSConvU


class SeparableUnit(nn.Sequential):
    """[ReLU] -> DSC (``DSConv``: depthwise, pointwise) -> BN.

    Children: [``relu``], ``conv``, ``bn``. A leading ReLU is not in-place: the block's shortcut reads its input.
    """

    def __init__(self, in_channels: int, out_channels: int, pre_relu: bool):
        super().__init__()
        if pre_relu:
            self.add_module("relu", nn.ReLU())
        self.add_module("conv", DSConv(in_channels, out_channels, 3, padding=1, bias=False))
        self.add_module("bn", nn.BatchNorm2d(out_channels))


class XceptionBlock(nn.Module):
    """Separable units (the first grows the channels, or the last does when ``grow_first`` is False), a 3x3
    max-pool at ``stride`` 2, plus the shortcut: identity, or 1x1 conv + BN when the shape changes.

    Children: ``units`` (Sequential of SeparableUnit), [``pool``], [``shortcut``].
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        units: int,
        stride: int,
        start_with_relu: bool = True,
        grow_first: bool = True,
    ):
        super().__init__()
        widths = [out_channels] * units if grow_first else [in_channels] * (units - 1) + [out_channels]
        self.units = nn.Sequential()
        channels = in_channels
        for unit_id, width in enumerate(widths):
            pre_relu = start_with_relu or unit_id > 0
            self.units.add_module(f"unit{unit_id + 1}", SeparableUnit(channels, width, pre_relu))
            channels = width
        self.pool = nn.MaxPool2d(3, stride=stride, padding=1) if stride != 1 else None
        project = in_channels != out_channels or stride != 1
        self.shortcut = ConvBlock(in_channels, out_channels, 1, stride, activation=None) if project else None

    def forward(self, x):
        y = self.units(x)  # B,N,H,W
        if self.pool is not None:
            y = self.pool(y)  # B,N,H',W'
        return y + (x if self.shortcut is None else self.shortcut(x))


class Xception(BackboneClassifier):
    """entry flow (two 3x3 convs, three blocks) -> middle flow (8 blocks) -> exit flow -> pool -> classifier."""

    def __init__(self, config: XceptionConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        c1, c2 = config.stem_channels
        self.backbone.add_module("conv1", ConvBlock(in_channels, c1, 3, stride=2, padding=0))
        self.backbone.add_module("conv2", ConvBlock(c1, c2, 3, padding=0))
        channels = c2
        for block_id, width in enumerate(config.entry_channels):
            block = XceptionBlock(channels, width, 2, 2, start_with_relu=block_id > 0)
            self.backbone.add_module(f"entry{block_id + 1}", block)
            channels = width
        for block_id in range(config.middle_blocks):
            self.backbone.add_module(f"middle{block_id + 1}", XceptionBlock(channels, channels, 3, 1))
        block_width, *unit_widths = config.exit_channels
        self.backbone.add_module("exit1", XceptionBlock(channels, block_width, 2, 2, grow_first=False))
        channels = block_width
        for unit_id, width in enumerate(unit_widths):
            unit = nn.Sequential(SeparableUnit(channels, width, pre_relu=False), nn.ReLU(inplace=True))
            self.backbone.add_module(f"exit{unit_id + 2}", unit)
            channels = width
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class XceptionConfig(ModelConfig):
    """Entry-flow widths, middle-flow width and depth, exit-flow widths."""

    model = Xception
    name = "xception"

    stem_channels: tuple[int, int] = (32, 64)
    entry_channels: tuple[int, ...] = (128, 256, 728)
    middle_blocks: int = 8
    exit_channels: tuple[int, ...] = (1024, 1536, 2048)


CONFIGS = (XceptionConfig(),)
VARIANTS = (None, ToBSConvU(reverse_dsc=True))
