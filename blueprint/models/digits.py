"""Small CNNs for the CPU demo and the training tests: a VGG-style baseline and its BSConv variants.

Two stages of two 3x3 convolution blocks (the second stage after a 2x2 max-pool, with twice the width),
then global average pooling and the zoo's 1x1-convolution classifier. The BSConv variants replace every
3x3 convolution exactly as the zoo's replacer does (``ConvSpec``), so that the demo compares a baseline with
its BSConv-U counterpart of the same width (about 8x fewer parameters and FLOPs, Sec. 3.3.1).

Registered names:

- ``digits_cnn``, ``digits_cnn_bsconvu``, ``digits_cnn_bsconvs_p1d4``: width 32, one input channel
  (scikit-learn's 8x8 digits);
- ``cifar_tiny_cnn``, ``cifar_tiny_cnn_bsconvu``, ``cifar_tiny_cnn_bsconvs_p1d2``: width 8, three input channels
  (any resolution; a smoke-test model for CIFAR-shaped data).
"""
from __future__ import annotations

import torch.nn as nn

from blueprint.models.common import Classifier, ConvBlock, ConvSpec, reference_init
from blueprint.models.registry import add


class SmallCNN(nn.Module):
    """conv-conv | pool | conv-conv | global pool | classifier; every conv is a 3x3 ConvBlock built with ``spec``."""

    def __init__(self, in_channels: int, width: int, num_classes: int, spec: ConvSpec):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(in_channels, width, 3, spec=spec),  # B,w,H,W
            ConvBlock(width, width, 3, spec=spec),
            nn.MaxPool2d(2),  # B,w,H/2,W/2
            ConvBlock(width, 2 * width, 3, spec=spec),  # B,2w,H/2,W/2
            ConvBlock(2 * width, 2 * width, 3, spec=spec),
            nn.AdaptiveAvgPool2d(1),  # B,2w,1,1
        )
        self.classifier = Classifier(2 * width, num_classes)  # B,num_classes
        reference_init(self.features, self.classifier)

    def forward(self, x):
        return self.classifier(self.features(x))


def _constructor(in_channels: int, width: int, spec: ConvSpec):
    def build(num_classes: int = 10) -> SmallCNN:
        return SmallCNN(in_channels, width, num_classes, spec)

    return build


for _prefix, _in_channels, _size, _width, _subspace in (
    ("digits_cnn", 1, 8, 32, "p1d4"),
    ("cifar_tiny_cnn", 3, 32, 8, "p1d2"),
):
    for _suffix in (None, "bsconvu", f"bsconvs_{_subspace}"):
        _name = _prefix if _suffix is None else f"{_prefix}_{_suffix}"
        add(_name, _constructor(_in_channels, _width, ConvSpec.from_suffix(_suffix)), (_in_channels, _size, _size), 10)
