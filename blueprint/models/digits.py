"""Small CNNs for the CPU demo and the training tests: a VGG-style baseline and its BSConv variants.

Two stages of two 3x3 convolution blocks (the second stage after a 2x2 max-pool, with twice the width),
then global average pooling and the zoo's 1x1-convolution classifier. The BSConv variants convert every
3x3 convolution exactly as the zoo's other variants do (``variants``), so that the demo compares a baseline
with its BSConv-U counterpart of the same width (about 8x fewer parameters and FLOPs, Sec. 3.3.1).

Registered names:

- ``digits_cnn``, ``digits_cnn_bsconvu``, ``digits_cnn_bsconvs_p1d4``: width 32, one input channel
  (scikit-learn's 8x8 digits);
- ``cifar_tiny_cnn``, ``cifar_tiny_cnn_bsconvu``, ``cifar_tiny_cnn_bsconvs_p1d2``: width 8, three input channels
  (any resolution; a smoke-test model for CIFAR-shaped data).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from blueprint.models.common import Classifier, ConvBlock, reference_init
from blueprint.models.registry import register
from blueprint.models.variants import ToBSConvS, ToBSConvU


@dataclass(frozen=True)
class SmallCNNConfig:
    """The registered name, the input channels and the width w of the first stage (2w in the second)."""

    name: str
    in_channels: int
    width: int

    def build(self, num_classes: int) -> "SmallCNN":
        return SmallCNN(self.in_channels, self.width, num_classes)


class SmallCNN(nn.Module):
    """conv-conv | pool | conv-conv | global pool | classifier; every conv is a 3x3 ConvBlock."""

    def __init__(self, in_channels: int, width: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(in_channels, width, 3),  # B,w,H,W
            ConvBlock(width, width, 3),
            nn.MaxPool2d(2),  # B,w,H/2,W/2
            ConvBlock(width, 2 * width, 3),  # B,2w,H/2,W/2
            ConvBlock(2 * width, 2 * width, 3),
            nn.AdaptiveAvgPool2d(1),  # B,2w,1,1
        )
        self.classifier = Classifier(2 * width, num_classes)  # B,num_classes
        reference_init(self.features, self.classifier)

    def forward(self, x):
        return self.classifier(self.features(x))


def _register():
    digits, tiny = SmallCNNConfig("digits_cnn", 1, 32), SmallCNNConfig("cifar_tiny_cnn", 3, 8)
    for config, side, p in ((digits, 8, 1 / 4), (tiny, 32, 1 / 2)):  # input side, BSConv-S subspace ratio
        for variant in (None, ToBSConvU(), ToBSConvS(p)):
            register(config, variant, input_size=(config.in_channels, side, side), num_classes=10)


_register()
