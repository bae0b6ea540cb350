"""The orthonormal regularization of BSConv-S, Eq. (9): `L_ortho = ||W^B W^B^T - I||_F`.

Training adds ``alpha * orthonormal_loss(model)`` to the classification loss (Sec. 3.3.2). A layer takes
part in one of two ways:

- it has a method ``orthonormal_weights()`` returning its `W^B` tensors (``BSConvS`` returns ``pw1.weight``);
- a convolution was marked with ``mark_orthonormal(conv)``; the zoo marks the projection convolutions of
  the MobileNetV2/V3-style linear bottlenecks this way, which are BSConv-S blocks shifted by one step (Sec. 4.2).

A weight of shape (M', M, 1, 1) (or (M', M)) is read as the M' x M matrix `W^B` whose rows should be orthonormal.
"""

from __future__ import annotations

import torch
import torch.nn as nn

ORTHONORMAL_ATTR = "orthonormal_regularized"


def mark_orthonormal(conv: nn.Module) -> nn.Module:
    """Opt a 1x1 convolution (or a linear layer) into the orthonormal loss of Eq. (9); returns ``conv``.

    The weight must be a matrix `W^B` of M' rows over M inputs: ``nn.Conv2d`` with a 1x1 kernel and
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
    """Every `W^B` in ``model`` as ``(parameter name, tensor)``, in module order, each weight once."""
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


def _penalties(w: torch.Tensor) -> torch.Tensor:
    """Eq. (9) for a stack of G matrices `W^B`, w (G, M', M): `||W^B W^B^T - I||_F` of each, shape (G,)."""
    gram = w @ w.mT  # G,M',M'
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)  # M',M'
    return torch.linalg.matrix_norm(gram - eye, ord="fro")  # G


def orthonormal_penalty(w_b: torch.Tensor) -> torch.Tensor:
    """Eq. (9) for one weight: `||W^B W^B^T - I||_F`, `W^B` = ``w_b`` reshaped to (M', M); not squared."""
    if w_b.dim() < 2:
        raise ValueError(f"w_b: expected a weight of shape (M', M, ...), got shape {tuple(w_b.shape)}")
    return _penalties(w_b.reshape(1, w_b.shape[0], -1))[0]


class OrthonormalLoss:
    """L_ortho of Eq. (9) summed over the regularized weights of ``model``, planned once for a training loop.

    The weights are collected when the loss is made (``regularized_weights``: the model's modules are walked
    once, not at every step) and grouped by shape, dtype and device; calling the loss stacks each group into
    one (G, M', M) tensor and takes all G products and norms at once, so a deep BSConv-S model costs a few ops
    per distinct layer shape instead of a few per layer. Without regularized weights ``bool(loss)`` is False
    and a call returns a zero, so that a loop can skip the term. The weights must stay the same tensors (as
    they do through ``model.to``, DDP and ``torch.compile``); make the loss anew after replacing modules.
    """

    def __init__(self, model: nn.Module):
        groups: dict[tuple, list[torch.Tensor]] = {}
        for _, w in regularized_weights(model):
            if w.dim() < 2:
                raise ValueError(f"w_b: expected a weight of shape (M', M, ...), got shape {tuple(w.shape)}")
            groups.setdefault((tuple(w.shape), w.dtype, w.device), []).append(w)
        self.groups = list(groups.values())
        first = next(model.parameters(), None)
        self._zero_like = first if first is not None else torch.zeros(())

    def __bool__(self) -> bool:
        return bool(self.groups)

    def __call__(self) -> torch.Tensor:
        """The summed penalty, a differentiable scalar (a zero of the model's dtype and device if there is none)."""
        total = None
        for group in self.groups:
            stacked = torch.stack(group) if len(group) > 1 else group[0][None]  # G,M',M,...
            term = _penalties(stacked.flatten(2)).sum()
            total = term if total is None else total + term
        if total is None:
            return torch.zeros((), dtype=self._zero_like.dtype, device=self._zero_like.device)
        return total


def orthonormal_loss(model: nn.Module) -> torch.Tensor:
    """L_ortho of Eq. (9) summed, unweighted, over every regularized weight of ``model``.

    A differentiable scalar; a zero tensor when the model has no regularized layer (so that
    ``loss + alpha * orthonormal_loss(model)`` works for every model). A training loop makes an
    ``OrthonormalLoss(model)`` once instead and calls it every step.
    """
    return OrthonormalLoss(model)()
