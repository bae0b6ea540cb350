"""MnasNet (1.0) and its BSConv-S variant (Table 4, Sec. 4.2 and 5.3): an MBConv network (``efficientnet``).

Registered names: ``mnasnet[_bsconvs_p1d6]``. The baseline is Tan et al.'s MnasNet-B1 at depth multiplier 1.0
as in torchvision's ``mnasnet1_0`` (4,383,312 parameters at 1000 classes; no squeeze-excite, ReLU
throughout): a 3x3/2 conv (32 channels, BN, ReLU), a depthwise separable unit (depthwise 3x3 + BN + ReLU,
pointwise to 16 + BN, linear), six stages of MBConv units (the rows below), a 1x1 conv to 1280 channels (BN,
ReLU), global average pooling, dropout 0.2 and a linear classifier (here a 1x1 convolution with bias).
Differences from torchvision: BatchNorm keeps PyTorch's defaults (torchvision uses momentum 0.0003), and the
weights start from the zoo's ``official_init``.

The depthwise separable unit is the MBConv unit with expansion ratio 1, which is how it is built here.

BSConv-S (Sec. 4.2), ``MarkProjections``: as for EfficientNet-B0: unchanged architecture, every unit's
projection (the separable unit's pointwise convolution included) marked for the orthonormal loss of Eq. (9).
"""

from __future__ import annotations

from blueprint.models.efficientnet import MBConvNetConfig, MBStage
from blueprint.models.variants import MarkProjections

MNASNET = MBConvNetConfig(
    "mnasnet",
    stages=(
        MBStage(1, 3, 1, 16, 1),
        MBStage(3, 3, 2, 24, 3),
        MBStage(3, 5, 2, 40, 3),
        MBStage(6, 5, 2, 80, 3),
        MBStage(6, 3, 1, 96, 2),
        MBStage(6, 5, 2, 192, 4),
        MBStage(6, 3, 1, 320, 1),
    ),  # MBStage(expansion, kernel_size, stride, channels, units)
    activation="relu",
    se_ratio=0.0,
    stochastic_depth=0.0,
)


CONFIGS = (MNASNET,)
VARIANTS = (None, MarkProjections())
