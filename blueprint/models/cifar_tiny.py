"""A tiny CNN for CIFAR-shaped data (3 channels, any resolution): the smoke-test model of training runs.

Registered names: ``cifar_tiny_cnn[_bsconvu|_bsconvs_p1d2]``: the ``digits`` family's small CNN at width 8 on
3x32x32 inputs, 10 classes; BSConv-S at p = 1/2, so that its 8-channel layers keep a 4-channel subspace.
"""

from __future__ import annotations

from blueprint.models.digits import SmallCNNConfig
from blueprint.models.variants import ToBSConvS, ToBSConvU

CONFIGS = (SmallCNNConfig("cifar_tiny_cnn", in_channels=3, width=8, side=32),)
VARIANTS = (None, ToBSConvU(), ToBSConvS(1 / 2))
