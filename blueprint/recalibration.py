"""``recalibrate_bn(model, batches)``: BatchNorm statistics measured again on data, after the weights changed.

A converted model (``convert(init="svd")``) computes slightly different activations than the baseline whose
BatchNorm statistics it inherited; its running statistics then normalize with the wrong mean and variance.
``recalibrate_bn`` runs ``batches`` through the model in training mode without gradients and sets each
BatchNorm's ``running_mean`` and ``running_var`` to the average over the batches of the batch mean and the
unbiased batch variance per channel (PyTorch's cumulative average, ``momentum=None``), which is what
``torch.optim.swa_utils.update_bn`` does. Nothing else changes: not the weights, not the affine parameters.

``preserve`` names BatchNorms whose eval-mode function y = a x + b (a = gamma / sqrt(var + eps),
b = beta - mean a) must stay what it is: during the pass each of them returns its input unchanged (so the
layers after it see what they see in eval mode) while its input statistics (mean, var) are measured; then
running_mean = mean, running_var = var, gamma = a sqrt(var + eps) and beta = b + mean a, so the eval-mode
function is the same and in training mode the batch statistics, close to (mean, var), give nearly the same.
The pass-through BatchNorms that ``blueprint.training.warm_start`` puts inside BSConv-S are recalibrated so.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

_BatchNorm = nn.modules.batchnorm._BatchNorm


class _InputStatistics:
    """Per-channel sums of a BatchNorm's inputs (float64), over every batch it sees: mean and unbiased variance."""

    def __init__(self):
        self.total = self.squares = None
        self.count = 0
        self.batches = 0

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().double().transpose(0, 1).reshape(x.shape[1], -1)  # C,B*H*W
        total, squares = x.sum(1), (x * x).sum(1)
        self.total = total if self.total is None else self.total + total
        self.squares = squares if self.squares is None else self.squares + squares
        self.count += x.shape[1]
        self.batches += 1

    def mean_var(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.total / self.count
        var = (self.squares - self.count * mean * mean) / max(self.count - 1, 1)
        return mean, var.clamp_min(0.0)


def _pass_through(stats: _InputStatistics):
    def hook(module, inputs, output):
        stats.add(inputs[0])
        return inputs[0]

    return hook


def _eval_affine(bn: _BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of ``bn``'s eval-mode function y = a x + b, per channel, in float64."""
    with torch.no_grad():
        gamma = bn.weight.double() if bn.affine else torch.ones_like(bn.running_mean, dtype=torch.float64)
        beta = bn.bias.double() if bn.affine else torch.zeros_like(bn.running_mean, dtype=torch.float64)
        a = gamma / torch.sqrt(bn.running_var.double() + bn.eps)  # C
        return a, beta - bn.running_mean.double() * a


def _keep_function(bn: _BatchNorm, affine: tuple[torch.Tensor, torch.Tensor], stats: _InputStatistics) -> None:
    """New statistics (mean, var) for ``bn`` with gamma and beta set so that its eval-mode a x + b stays."""
    a, b = affine
    mean, var = stats.mean_var()
    with torch.no_grad():
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        if bn.affine:
            bn.weight.copy_(a * torch.sqrt(var + bn.eps))
            bn.bias.copy_(b + mean * a)
        bn.num_batches_tracked.fill_(stats.batches)


def recalibrate_bn(model: nn.Module, batches: Iterable, preserve: Iterable[nn.Module] = ()) -> nn.Module:
    """Set every BatchNorm's running statistics from ``batches`` (see the module docstring); returns ``model``.

    Args:
        model: any ``nn.Module``; its mode (train or eval) is the same afterwards.
        batches: an iterable of input tensors, or of ``(x, y)`` pairs whose first item is the input.
        preserve: BatchNorms of ``model`` whose eval-mode function is kept (pass-through during the pass).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    kept = {id(m) for m in preserve}
    if kept - {id(m) for m in norms}:
        raise ValueError("preserve: expected BatchNorm modules of `model`, got a module that is not one of them")
    if any(not m.track_running_stats for m in norms):
        raise ValueError("model: a BatchNorm without running statistics (track_running_stats=False) has none to set")
    stats = {id(m): _InputStatistics() for m in norms if id(m) in kept}
    affines = {id(m): _eval_affine(m) for m in norms if id(m) in kept}  # before the pass moves their statistics
    hooks = [m.register_forward_hook(_pass_through(stats[id(m)])) for m in norms if id(m) in kept]
    momenta = {id(m): m.momentum for m in norms}
    was_training = model.training
    seen = 0
    try:
        for m in norms:
            if id(m) not in kept:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the batches
        model.train()
        with torch.no_grad():
            for batch in batches:
                model(batch[0] if isinstance(batch, (tuple, list)) else batch)
                seen += 1
    finally:
        for hook in hooks:
            hook.remove()
        for m in norms:
            m.momentum = momenta[id(m)]
        model.train(was_training)
    if not seen and norms:
        raise ValueError("batches: expected at least one batch, got none")
    for m in norms:
        if id(m) in kept:
            _keep_function(m, affines[id(m)], stats[id(m)])
    return model
