"""VGG-16 with batch normalization and its BSConv-U variant (Table 4, Sec. 5.3).

Registered names: ``vgg16_bn[_bsconvu]``. The baseline is the widely used variant of Simonyan & Zisserman's
configuration D with a BatchNorm after every convolution (torchvision's ``vgg16_bn``, 138,365,992 parameters
at 1000 classes): thirteen 3x3 convolutions with bias, each followed by BN and ReLU, five 2x2 max-pools, an
adaptive average pool to 7x7 (so inputs of any size from 32x32 up work) and the classifier
25088 -> 4096 -> 4096 -> num_classes with ReLU and dropout 0.5.

BSConv-U (Sec. 5.3, "we replace regular convolution layers in standard networks such as VGG"): as the official
implementation's drop-in replacer, ``ToBSConvU`` (``convert``) turns every 3x3 convolution of the initialized
baseline into ``BSConvU`` (pointwise, then depthwise with the bias, no inner BN), the first one on the RGB input
included. The fully connected classifier is unchanged,
so it holds most of the parameters of both variants (about 124M of 138M).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import BackboneClassifier, ConvBlock, ModelConfig
from blueprint.models.variants import ToBSConvU

# Configuration D: output channels of each 3x3 convolution, "M" a 2x2 max-pool.
VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


class VGG(BackboneClassifier):
    """backbone: [3x3 conv (bias) -> BN -> ReLU]* with max-pools -> 7x7 adaptive average pool;
    classifier: flatten -> linear-ReLU-dropout twice -> linear."""

    def __init__(self, config: VGGConfig, num_classes: int = 1000, in_channels: int = 3):
        super().__init__(config)
        channels, conv_id, stage_id = in_channels, 1, 1
        for layer in config.layers:
            if layer == "M":
                self.backbone.add_module(f"pool{stage_id}", nn.MaxPool2d(2, stride=2))
                stage_id += 1
                continue
            self.backbone.add_module(f"conv{conv_id}", ConvBlock(channels, layer, 3, bias=True))
            channels, conv_id = layer, conv_id + 1
        self.backbone.add_module("avg_pool", nn.AdaptiveAvgPool2d(config.pooled_size))
        flat = channels * config.pooled_size**2
        self.classifier = nn.Sequential(
            nn.Flatten(1),
            nn.Linear(flat, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, num_classes),
        )
        vgg_init(self)


@dataclass(frozen=True)
class VGGConfig(ModelConfig):
    """The convolution layers (channels or "M"), the hidden width and dropout of the classifier."""

    model = VGG

    layers: tuple = VGG16_LAYERS
    hidden: int = 4096
    dropout: float = 0.5
    pooled_size: int = 7

    @property
    def name(self) -> str:
        """``vgg{D}_bn``, D the weight layers: the convolutions and the classifier's three linear layers."""
        return f"vgg{sum(layer != 'M' for layer in self.layers) + 3}_bn"


def vgg_init(model: nn.Module) -> None:
    """torchvision's VGG initialization: He-normal (fan-out) convolutions with zero bias, N(0, 0.01) linear layers
    with zero bias."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
        else:
            continue
        if module.bias is not None:
            nn.init.zeros_(module.bias)


CONFIGS = (VGGConfig(),)
VARIANTS = (None, ToBSConvU())
