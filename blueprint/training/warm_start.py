"""From a trained baseline to its BSConv variant of the zoo, the trained weights kept: ``warm_start``.

A zoo variant is a transform of its baseline (``blueprint.models.variants``). ``convert_baseline(baseline,
target)`` runs the target's own transform on the trained baseline with ``init="svd"`` (``blueprint.conversion``):

- ``*_bsconvu`` (``ToBSConvU``): every converted KxK convolution becomes BSConv-U from its best rank-1 blueprints,
  F_m^(n) ~= w_{n,m} B^(n) (Eq. 2);
- ``*_bsconvs_*`` (``ToBSConvS(p)``): that fit, then the truncated SVD W ~= W^A W^B with orthonormal W^B (Eq. 8).
  The zoo's BSConv-S has a BatchNorm after each pointwise step (``bn1``, ``bn2``), which the factorization does
  not have: they start as pass-through (running mean 0, variance 1, gamma sqrt(1 + eps), beta 0: y = x in eval
  mode).

The result is loaded strictly into a freshly built zoo model of the target's name, so it has exactly the zoo
model's state_dict (keys and shapes) and its checkpoints are the zoo model's. ``model.conversion_report``
holds the per-layer report (rank-1 error, parameters before and after). Exact (eval-mode logits equal) when
the baseline's kernels are blueprint-structured (and, for BSConv-S, rank(W) <= M').

``warm_start(baseline, target, batches)`` then recalibrates BatchNorm on the training batches
(``blueprint.recalibrate_bn``): the BatchNorms after the converted layers get the statistics of the activations
the converted model computes; the pass-through ones keep their function (``preserve``) with statistics measured,
so that they pass their input through in training mode too.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn as nn

from blueprint.conversion import convert
from blueprint.layers import BSConvS
from blueprint.models import create
from blueprint.models.registry import entry
from blueprint.models.variants import ToBSConvS, ToBSConvU
from blueprint.recalibration import recalibrate_bn
from blueprint.training.checkpoint import load_weights

RECALIBRATION_BATCHES = 50  # training batches for the BatchNorm statistics (all of digits' 23, 50 of CIFAR's 391)


def baseline_of(target: str) -> str:
    """The zoo name of ``target``'s baseline (``digits_cnn`` for ``digits_cnn_bsconvu``); a target that is no
    BSConv-U/BSConv-S transform of one raises ``ValueError`` naming ``model``."""
    found = entry(target)
    transform = found.transform
    if not isinstance(transform, (ToBSConvU, ToBSConvS)):
        what = "a baseline" if transform is None else f"made by {type(transform).__name__}"
        raise ValueError(
            f"model: {target} is {what}; expected a BSConv-U or BSConv-S variant of the zoo "
            f"(e.g. {found.config.name}_bsconvu) to initialize from its trained baseline"
        )
    if isinstance(transform, ToBSConvU) and transform.reverse_dsc:
        raise ValueError(
            f"model: {target} reverses depthwise separable convolutions (Sec. 4.1), which start from "
            f"a fresh initialization; expected a variant that converts regular convolutions"
        )
    return found.config.name


def _svd_conversion(model: nn.Module, transform) -> nn.Module:
    """``transform``'s conversion of ``model`` with ``init="svd"`` and without BatchNorm inside BSConv-S."""
    if isinstance(transform, ToBSConvU):
        return convert(model, to="bsconv_u", exclude=list(transform.exclude) or None, init="svd")
    return convert(model, to="bsconv_s", p=transform.p, with_bn=False, init="svd")


def pass_through(bn: nn.modules.batchnorm._BatchNorm) -> None:
    """Make ``bn`` return its input in eval mode: running mean 0, variance 1, gamma sqrt(1 + eps), beta 0."""
    with torch.no_grad():
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0)
        bn.num_batches_tracked.zero_()
        bn.weight.fill_(math.sqrt(1.0 + bn.eps))
        bn.bias.zero_()


def inner_batchnorms(model: nn.Module) -> list[nn.Module]:
    """The BatchNorms inside the BSConv-S layers of ``model`` (``bn1``, ``bn2``), in module order."""
    return [
        bn
        for m in model.modules()
        if isinstance(m, BSConvS)
        for bn in (getattr(m, "bn1", None), getattr(m, "bn2", None))
        if bn is not None
    ]


def convert_baseline(baseline: nn.Module, target: str, num_classes: int) -> nn.Module:
    """The zoo model ``target`` holding ``baseline``'s weights converted by SVD (see the module docstring).

    ``baseline`` is changed in place (its convolutions replaced) and must be the architecture of
    ``baseline_of(target)``; one that is not raises ``ValueError`` saying which keys or shapes differ. The
    result is on ``baseline``'s device, in its dtype and mode.
    """
    transform = entry(target).transform
    base_name = baseline_of(target)
    converted = _svd_conversion(baseline, transform)
    first = next(baseline.parameters())
    model = create(target, num_classes=num_classes).to(device=first.device, dtype=first.dtype)
    state = converted.state_dict()
    for bn in inner_batchnorms(model):
        pass_through(bn)
    names = {id(m): n for n, m in model.named_modules()}
    for bn in inner_batchnorms(model):
        state.update({f"{names[id(bn)]}.{k}": v for k, v in bn.state_dict().items()})
    load_weights(model, state, f"init_from: the converted {base_name} (is it a {base_name}?)")
    model.conversion_report = converted.conversion_report
    return model.train(baseline.training)


def warm_start(baseline: nn.Module, target: str, num_classes: int, batches: Iterable | None = None) -> nn.Module:
    """``convert_baseline``, then ``recalibrate_bn`` on ``batches`` (when given) with the pass-through BatchNorms
    inside BSConv-S preserved."""
    model = convert_baseline(baseline, target, num_classes)
    if batches is not None:
        recalibrate_bn(model, batches, preserve=inner_batchnorms(model))
    return model
