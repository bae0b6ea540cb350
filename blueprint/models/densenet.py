"""DenseNet-121 and its BSConv-U variant (Table 4, Sec. 5.3).

Registered names: ``densenet121[_bsconvu]``. The baseline is Huang et al.'s DenseNet-BC-121 for ImageNet as in
torchvision's ``densenet121`` (7,978,856 parameters at 1000 classes): a 7x7/2 conv (64 channels), BN, ReLU and
a 3x3/2 max-pool; four dense blocks of 6, 12, 24, 16 layers with growth rate 32, each layer BN-ReLU-1x1 conv
(4 x 32 channels)-BN-ReLU-3x3 conv (32 channels) whose output is concatenated to its input; between blocks a
transition BN-ReLU-1x1 conv halving the channels and a 2x2 average pool; a final BN and ReLU, global average
pooling and a linear classifier (here a 1x1 convolution with bias, the same parameters). No dropout. Difference
from torchvision: the weights start from the zoo's ``official_init`` instead of He-normal (fan-in).

BSConv-U (Sec. 5.3): as the official implementation's drop-in replacer, ``ToBSConvU`` (``convert``) turns every
3x3 convolution into ``BSConvU`` (no inner BN); the 7x7 stem convolution and the 1x1 convolutions stay.
Each 3x3 layer then has 128 * 32 + 32 * 9 instead of 128 * 32 * 9 weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from blueprint.models.common import BackboneClassifier, Classifier, ConvBlock, ModelConfig, official_init
from blueprint.models.variants import ToBSConvU


class PreactConv(nn.Sequential):
    """BN -> ReLU -> KxK convolution without bias (DenseNet's composite function). Children: bn, relu, conv."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.add_module("bn", nn.BatchNorm2d(in_channels))
        self.add_module("relu", nn.ReLU(inplace=True))
        padding = (kernel_size - 1) // 2
        self.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=False))


class DenseLayer(nn.Module):
    """x -> concat(x, conv2(conv1(x))): a 1x1 bottleneck to bn_size * k channels, then k new 3x3 feature maps."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int):
        super().__init__()
        self.conv1 = PreactConv(in_channels, bn_size * growth_rate, 1)
        self.conv2 = PreactConv(bn_size * growth_rate, growth_rate, 3)

    def forward(self, x):
        return torch.cat([x, self.conv2(self.conv1(x))], dim=1)  # B,C,H,W -> B,C+k,H,W


class Transition(nn.Sequential):
    """BN -> ReLU -> 1x1 conv (C -> C/2) -> 2x2 average pool. Children: conv (a PreactConv), pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.add_module("conv", PreactConv(in_channels, out_channels, 1))
        self.add_module("pool", nn.AvgPool2d(2, stride=2))


class DenseNet(BackboneClassifier):
    """stem (7x7/2 conv, 3x3/2 max-pool) -> dense blocks with transitions -> BN-ReLU -> pool -> classifier."""

    def __init__(self, config: DenseNetConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        channels = config.init_channels
        self.backbone.add_module("init_conv", ConvBlock(in_channels, channels, 7, stride=2))
        self.backbone.add_module("init_pool", nn.MaxPool2d(3, stride=2, padding=1))
        for block_id, count in enumerate(config.block_layers):
            block = nn.Sequential()
            for layer_id in range(count):
                layer = DenseLayer(channels, config.growth_rate, config.bn_size)
                block.add_module(f"layer{layer_id + 1}", layer)
                channels += config.growth_rate
            self.backbone.add_module(f"block{block_id + 1}", block)
            if block_id + 1 < len(config.block_layers):
                self.backbone.add_module(f"transition{block_id + 1}", Transition(channels, channels // 2))
                channels //= 2
        self.backbone.add_module("final_bn", nn.BatchNorm2d(channels))
        self.backbone.add_module("final_relu", nn.ReLU(inplace=True))
        self.backbone.add_module("global_pool", nn.AdaptiveAvgPool2d(1))
        self.classifier = Classifier(channels, num_classes)
        official_init(self.backbone, self.classifier)


@dataclass(frozen=True)
class DenseNetConfig(ModelConfig):
    """Layers per dense block, growth rate k, bottleneck width (bn_size * k), stem width."""

    model = DenseNet

    block_layers: tuple[int, ...] = (6, 12, 24, 16)
    growth_rate: int = 32
    bn_size: int = 4
    init_channels: int = 64

    @property
    def name(self) -> str:
        """``densenet{D}``, D the weight layers: two per dense layer, the transitions, the stem, the classifier."""
        return f"densenet{2 * sum(self.block_layers) + len(self.block_layers) + 1}"


CONFIGS = (DenseNetConfig(),)
VARIANTS = (None, ToBSConvU())
