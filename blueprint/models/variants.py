"""The zoo's BSConv variants: transforms of a built and initialized baseline (Sec. 3.3, 4.1, 4.2).

The paper's official implementation builds a baseline, initializes it, then runs a replacer over it, and
``create`` does the same: ``transform(config.build(num_classes))``. Each transform is a frozen dataclass that
calls the library's own operations and names itself by the ``suffix`` it adds to the baseline's name:

| transform | suffix | operation |
| --- | --- | --- |
| ``ToBSConvU()`` | ``_bsconvu`` | ``convert(model, to="bsconv_u")``: groups-1 3x3/5x5 convs, no inner BN (Sec. 3.3.1) |
| ``ToBSConvU(reverse_dsc=True)`` | ``_bsconvu`` | the same, and every DSC reversed into BSConv-U (Sec. 4.1) |
| ``ToBSConvS(p)`` | ``_bsconvs_pXdY`` | ``convert(model, to="bsconv_s", p=p, with_bn=True)`` (Sec. 3.3.2) |
| ``MarkProjections()`` | ``_bsconvs_p1d6`` | every inverted residual's projection marked for Eq. (9) (Sec. 4.2) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn as nn

from blueprint.conversion import convert
from blueprint.layers import subspace_channels
from blueprint.models.common import InvertedResidual, fraction_text
from blueprint.regularization import mark_orthonormal

__all__ = ["MarkProjections", "ToBSConvS", "ToBSConvU"]


@dataclass(frozen=True)
class ToBSConvU:
    """BSConv-U (Sec. 3.3.1): ``convert(model, to="bsconv_u")``; with ``reverse_dsc`` each DSC is reversed into
    BSConv-U too (Sec. 4.1); modules named by the ``exclude`` patterns stay as they are."""

    reverse_dsc: bool = False
    exclude: tuple[str, ...] = ()
    suffix: ClassVar[str] = "_bsconvu"

    def __call__(self, model: nn.Module) -> nn.Module:
        return convert(model, to="bsconv_u", reverse_dsc=self.reverse_dsc, exclude=list(self.exclude) or None)


@dataclass(frozen=True)
class ToBSConvS:
    """BSConv-S (Sec. 3.3.2): ``convert(model, to="bsconv_s", p=p)``, M' = min(M, max(4, ceil(p M))), with a
    BatchNorm after each pointwise step unless ``with_bn`` is False (the official code's ``BSConvS_Replacer``)."""

    p: float
    with_bn: bool = True

    def __post_init__(self):
        subspace_channels(1, self.p)

    @property
    def suffix(self) -> str:
        return f"_bsconvs_p{fraction_text(self.p)}"

    def __call__(self, model: nn.Module) -> nn.Module:
        return convert(model, to="bsconv_s", p=self.p, with_bn=self.with_bn)


@dataclass(frozen=True)
class MarkProjections:
    """BSConv-S for MobileNetV2/V3-style networks (Sec. 4.2): the architecture stays; the projection of every
    ``InvertedResidual`` (the first unit's included, as in the official implementation) is marked as a W^B for Eq. (9).

    The suffix's p = 1/6 is M'/M = out/mid of an expansion-6 unit, a name, not a parameter of the transform.
    """

    suffix: ClassVar[str] = "_bsconvs_p1d6"

    def __call__(self, model: nn.Module) -> nn.Module:
        for module in model.modules():
            if isinstance(module, InvertedResidual):
                mark_orthonormal(module.projection.conv)
        return model
