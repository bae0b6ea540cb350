"""MBConv networks: EfficientNet-B0 and its BSConv-S variant (Table 4, Sec. 4.2 and 5.3); MnasNet's table is in
``mnasnet``, built by the same ``MBConvNet``.

Registered names: ``efficientnet_b0[_bsconvs_p1d6]``. The baseline is Tan & Le's EfficientNet-B0 as in
torchvision's ``efficientnet_b0`` (5,288,548 parameters at 1000 classes): a 3x3/2 conv (32 channels, BN,
swish), seven stages of MBConv units (below), a 1x1 conv to 1280 channels (BN, swish), global average pooling,
dropout 0.2 and a linear classifier (here a 1x1 convolution with bias, the same parameters). Residual branches
are dropped per sample with probability 0.2 * i / 16 in unit i = 0..15 (stochastic depth).
BatchNorm uses PyTorch's defaults (eps 1e-5, momentum 0.1), and the weights start from the zoo's
``official_init`` (Kaiming-uniform convolutions, Xavier-normal classifier), not torchvision's initialization.

MBConv (also the unit of MnasNet, see ``mnasnet``): [expand 1x1 + BN + act] -> depthwise KxK + BN + act ->
[squeeze-excite] -> project 1x1 + BN (linear), with an identity skip when stride 1 and in == out.

BSConv-S (Sec. 4.2), ``MarkProjections``: a linear bottleneck is a BSConv-S block shifted by one step, exactly
as for MobileNetV2/V3 in the official implementation: the projection of one unit is W^B, the next unit's
expansion W^A and its depthwise convolution holds the blueprints. The architecture (and so the parameter count
and FLOPs, Table 4's caption) is unchanged; every unit's projection, the first unit's included, is marked for
the orthonormal loss of Eq. (9). The p = 1/6 of the name is M'/M = out/mid of an expansion-6 unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from blueprint.models.common import (
    BackboneClassifier,
    Classifier,
    ConvBlock,
    InvertedResidual,
    ModelConfig,
    SEUnit,
    depthwise_block,
    official_init,
)
from blueprint.models.variants import MarkProjections


class StochasticDepth(nn.Module):
    """In training, zero the whole residual branch of a sample with probability p and scale survivors by
    1 / (1 - p) (Huang et al., "Deep networks with stochastic depth"); the identity in evaluation."""

    def __init__(self, p: float):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p: expected a drop probability in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)  # B,1,1,1
        return x * keep.bernoulli_(1.0 - self.p) / (1.0 - self.p)


class MBConv(InvertedResidual):
    """Inverted residual unit. Children: [``expand``], ``depthwise``, [``se_unit``], ``project``, [``drop``].

    The expansion 1x1 exists only when ``mid_channels != in_channels`` (expansion ratio 1 has none); the
    squeeze-excite unit only when ``se_channels > 0``.
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        activation: str,
        se_channels: int = 0,
        drop_prob: float = 0.0,
    ):
        super().__init__()
        self.use_res_skip = stride == 1 and in_channels == out_channels
        expand = mid_channels != in_channels
        self.expand = ConvBlock(in_channels, mid_channels, 1, activation=activation) if expand else None
        self.depthwise = depthwise_block(mid_channels, kernel_size, stride, activation=activation)
        self.se_unit = SEUnit(mid_channels, se_channels, activation, "sigmoid") if se_channels > 0 else None
        self.project = ConvBlock(mid_channels, out_channels, 1, activation=None)
        self.drop = StochasticDepth(drop_prob) if self.use_res_skip and drop_prob > 0.0 else None

    @property
    def projection(self) -> ConvBlock:
        return self.project

    def forward(self, x):
        y = x if self.expand is None else self.expand(x)  # B,mid,H,W
        y = self.depthwise(y)  # B,mid,H',W'
        if self.se_unit is not None:
            y = self.se_unit(y)
        y = self.project(y)  # B,out,H',W'
        if not self.use_res_skip:
            return y
        return x + (y if self.drop is None else self.drop(y))


@dataclass(frozen=True)
class MBStage:
    """A stage of ``units`` MBConv units: expansion ratio, kernel size, first-unit stride, output channels."""

    expansion: int
    kernel_size: int
    stride: int
    channels: int
    units: int


class MBConvNet(BackboneClassifier):
    """3x3/2 conv -> MBConv stages -> 1x1 conv -> pool -> dropout -> classifier, one activation throughout."""

    def __init__(self, config: MBConvNetConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        channels, act = config.init_channels, config.activation
        self.backbone.add_module("init_conv", ConvBlock(in_channels, channels, 3, stride=2, activation=act))
        total = sum(stage.units for stage in config.stages)
        unit_index = 0
        for stage_id, spec in enumerate(config.stages):
            stage = nn.Sequential()
            for unit_id in range(spec.units):
                se_channels = max(1, int(channels * config.se_ratio)) if config.se_ratio > 0 else 0  # of the input
                unit = MBConv(
                    channels,
                    channels * spec.expansion,
                    spec.channels,
                    spec.kernel_size,
                    spec.stride if unit_id == 0 else 1,
                    activation=act,
                    se_channels=se_channels,
                    drop_prob=config.stochastic_depth * unit_index / total,
                )
                stage.add_module(f"unit{unit_id + 1}", unit)
                channels, unit_index = spec.channels, unit_index + 1
            self.backbone.add_module(f"stage{stage_id + 1}", stage)
        self.backbone.add_module("final_conv", ConvBlock(channels, config.final_channels, 1, activation=act))
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.backbone.add_module("dropout", nn.Dropout(config.dropout))
        self.classifier = Classifier(config.final_channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class MBConvNetConfig(ModelConfig):
    """An MBConv network: its name, the stages, stem and head widths, the activation, the squeeze-excite
    ratio (of a unit's input channels; 0: none), the stochastic-depth rate of the last unit and the dropout."""

    model = MBConvNet

    name: str
    stages: tuple[MBStage, ...]
    init_channels: int = 32
    final_channels: int = 1280
    activation: str = "swish"
    se_ratio: float = 0.25
    stochastic_depth: float = 0.2
    dropout: float = 0.2


EFFICIENTNET_B0 = MBConvNetConfig(
    "efficientnet_b0",
    stages=(
        MBStage(1, 3, 1, 16, 1),
        MBStage(6, 3, 2, 24, 2),
        MBStage(6, 5, 2, 40, 2),
        MBStage(6, 3, 2, 80, 3),
        MBStage(6, 5, 1, 112, 3),
        MBStage(6, 5, 2, 192, 4),
        MBStage(6, 3, 1, 320, 1),
    ),
)


CONFIGS = (EFFICIENTNET_B0,)
VARIANTS = (None, MarkProjections())
