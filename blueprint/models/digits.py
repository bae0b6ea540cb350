"""The small CNN of the CPU demo and the lessons on scikit-learn's 8x8 digits, and its BSConv variants.

Registered names: ``digits_cnn[_bsconvu|_bsconvs_p1d4]``: width 32, one input channel, 1x8x8 inputs, 10 classes.
Two stages of two 3x3 convolution blocks (the second stage after a 2x2 max-pool, with twice the width), then
global average pooling and the zoo's 1x1-convolution classifier. The BSConv variants convert every 3x3
convolution exactly as the zoo's other variants do (``variants``), so that the demo compares a baseline with its
BSConv-U counterpart of the same width (about 8x fewer parameters and FLOPs, Sec. 3.3.1). ``cifar_tiny`` builds
a narrower one for CIFAR-shaped data from the same config.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import Classifier, ConvBlock, ModelConfig, official_init
from blueprint.models.variants import ToBSConvS, ToBSConvU


class SmallCNN(nn.Module):
    """conv-conv | pool | conv-conv | global pool | classifier; every conv is a 3x3 ConvBlock."""

    def __init__(self, config: SmallCNNConfig, num_classes: int = 10):
        super().__init__()
        c, w = config.in_channels, config.width
        self.features = nn.Sequential(
            ConvBlock(c, w, 3),  # B,w,H,W
            ConvBlock(w, w, 3),
            nn.MaxPool2d(2),  # B,w,H/2,W/2
            ConvBlock(w, 2 * w, 3),  # B,2w,H/2,W/2
            ConvBlock(2 * w, 2 * w, 3),
            nn.AdaptiveAvgPool2d(1),  # B,2w,1,1
        )
        self.classifier = Classifier(2 * w, num_classes)  # B,num_classes
        official_init(self.features, self.classifier)

    def forward(self, x):
        return self.classifier(self.features(x))


@dataclass(frozen=True)
class SmallCNNConfig(ModelConfig):
    """The registered name, the input channels and side (inputs C x side x side), the width w of the first stage
    (2w in the second) and the default class count."""

    model = SmallCNN

    name: str
    in_channels: int
    width: int
    side: int
    num_classes: int = 10

    @property
    def input_size(self) -> tuple[int, int, int]:
        return (self.in_channels, self.side, self.side)


CONFIGS = (SmallCNNConfig("digits_cnn", in_channels=1, width=32, side=8),)
VARIANTS = (None, ToBSConvU(), ToBSConvS(1 / 4))
