"""Eval-mode models whose BatchNorms are not the identity, for tests of what folds them (fuse, export)."""

import torch
import torch.nn as nn


def randomized_batchnorms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial statistics and affine parameters in every BatchNorm, so that folding them is tested."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.5)
    return model.eval()
