"""The orthonormal regularization of BSConv-S, Eq. (9): L_ortho = ||W^B W^B^T - I||_F.

Training adds ``alpha * orthonormal_loss(model)`` to the classification loss (Sec. 3.3.2). A layer takes
part in one of two ways:

- it has a method ``orthonormal_weights()`` returning its W^B tensors (``BSConvS`` returns ``pw1.weight``);
- a convolution was marked with ``mark_orthonormal(conv)``; the zoo marks the projection convolutions of
  the MobileNetV2/V3-style linear bottlenecks this way, which are BSConv-S blocks shifted by one step (Sec. 4.2).

A weight of shape (M', M, 1, 1) (or (M', M)) is read as the M' x M matrix W^B whose rows should be orthonormal.
"""
from __future__ import annotations

import torch
import torch.nn as nn

ORTHONORMAL_ATTR = "orthonormal_regularized"


def mark_orthonormal(conv: nn.Module) -> nn.Module:
    """Opt a 1x1 convolution (or a linear layer) into the orthonormal loss of Eq. (9); returns ``conv``.

    The weight must be a matrix W^B of M' rows over M inputs: ``nn.Conv2d`` with a 1x1 kernel and
    groups=1, or ``nn.Linear``. Marking sets the attribute ``orthonormal_regularized = True``.
    """
    if isinstance(conv, nn.Conv2d):
        if conv.kernel_size != (1, 1) or conv.groups != 1:
            raise ValueError(
                "conv: expected a pointwise nn.Conv2d (kernel_size (1, 1), groups 1) whose weight is W^B, got "
                f"kernel_size {conv.kernel_size}, groups {conv.groups}"
            )
    elif not isinstance(conv, nn.Linear):
        raise TypeError(f"conv: expected an nn.Conv2d (1x1) or nn.Linear, got {type(conv).__name__}")
    setattr(conv, ORTHONORMAL_ATTR, True)
    return conv


def regularized_weights(model: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """Every W^B in ``model`` as ``(parameter name, tensor)``, in module order, each weight once."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    names = {id(p): name for name, p in model.named_parameters()}
    found: dict[int, tuple[str, torch.Tensor]] = {}
    for module_name, module in model.named_modules():
        if getattr(module, ORTHONORMAL_ATTR, False):
            weights = [module.weight]
        elif callable(getattr(module, "orthonormal_weights", None)):
            weights = module.orthonormal_weights()
        else:
            continue
        for w in weights:
            name = names.get(id(w), f"{module_name}.<weight>")
            found.setdefault(id(w), (name, w))
    return list(found.values())


def orthonormal_penalty(w_b: torch.Tensor) -> torch.Tensor:
    """Eq. (9) for one weight: ||W^B W^B^T - I||_F, W^B = ``w_b`` reshaped to (M', M); not squared."""
    if w_b.dim() < 2:
        raise ValueError(f"w_b: expected a weight of shape (M', M, ...), got shape {tuple(w_b.shape)}")
    w = w_b.reshape(w_b.shape[0], -1)  # M',M
    gram = w @ w.T  # M',M'
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return torch.linalg.matrix_norm(gram - eye, ord="fro")


def orthonormal_loss(model: nn.Module) -> torch.Tensor:
    """L_ortho of Eq. (9) summed, unweighted, over every regularized weight of ``model``.

    A differentiable scalar; a zero tensor when the model has no regularized layer (so that
    ``loss + alpha * orthonormal_loss(model)`` works for every model).
    """
    terms = [orthonormal_penalty(w) for _, w in regularized_weights(model)]
    if terms:
        return torch.stack(terms).sum()
    first = next(model.parameters(), None)
    if first is None:
        return torch.zeros(())
    return torch.zeros((), dtype=first.dtype, device=first.device)
