"""Every entry that ``blueprint verify`` runs: ``reference.equations`` plus agreement across backends.

The backends, each held to the NumPy reference on the same drawn cases, forward and every gradient:
``naive`` (the loops of ``reference.naive``), ``accel`` (its public functions), ``torch`` (the
``blueprint`` layers, or ``nn.Conv2d`` for conv2d, on the torch backend, gradients by autograd of
<y, dy>) and ``torch-accel`` (the same layers under ``blueprint.use_backend("accel")``, which must fuse
them). accel is imported where its entries first run.
"""

from __future__ import annotations

import torch
import torch.nn as nn

import reference
from blueprint import backend, regularization
from blueprint.layers import BSConvS, BSConvU, DSConv
from reference.cases import deviation, draw_w_b
from reference.equations import EQUATIONS as NUMPY_EQUATIONS
from reference.equations import OPS, Equation, agreement, results


def _accel():
    import accel

    return accel


def _accel_results(op, case, dy):
    return results(_accel(), op, case, dy)


def layer(op: str, case) -> nn.Module:
    """The PyTorch module of ``op`` with the case's geometry and weights; its parameters in contract order."""
    x, *weights, b = case.operands
    m, n = x.shape[1], (weights[1] if op == "dsc" else weights[-1]).shape[0]
    kernel = (weights[0] if op in ("conv2d", "dsc") else weights[-1]).shape[2:]
    spatial = {k: case.geometry[k] for k in ("stride", "padding", "dilation")}
    bias = b is not None
    if op == "conv2d":
        module = nn.Conv2d(m, n, kernel, groups=case.geometry["groups"], bias=bias, **spatial)
    elif op == "bsconv_u":
        module = BSConvU(m, n, kernel, bias=bias, **spatial)
    elif op == "bsconv_s":  # M' = min(M, max(min_mid_channels, ceil(p M))) = w_b.shape[0] for a tiny p
        module = BSConvS(m, n, kernel, bias=bias, p=1e-9, min_mid_channels=weights[0].shape[0], **spatial)
    else:
        module = DSConv(m, n, kernel, bias=bias, **spatial)
    module = module.to(torch.from_numpy(x).dtype)
    with torch.no_grad():
        for parameter, array in zip(module.parameters(), [*weights, b] if bias else weights, strict=True):
            parameter.copy_(torch.from_numpy(array))
    return module


def _numpy(t):
    return None if t is None else t.detach().numpy()


def layer_results(on_accel: bool):
    """``(y, gradients)`` of the PyTorch layer of ``op``, on the torch backend or fused on accel."""

    def run(op, case, dy):
        module = layer(op, case)
        x = torch.from_numpy(case.arrays["x"].copy()).requires_grad_()
        with backend.use_backend("accel" if on_accel else "torch"):
            if on_accel and not backend.fusable(module, x):
                raise RuntimeError(f"{type(module).__name__} does not fuse on the accel backend for {case.describe()}")
            y = module(x)
            (y * torch.from_numpy(dy)).sum().backward()
        grads = [x.grad, *(p.grad for p in module.parameters())]
        if case.arrays["b"] is None:
            grads.append(None)
        return _numpy(y), tuple(map(_numpy, grads))

    return run


def eq9_accel(case):
    (w_b,) = case.operands
    accel = _accel()
    loss, want = accel.orthonormal_loss(w_b), reference.orthonormal_loss(w_b)
    return max(
        abs(loss - want) / max(1.0, want),
        deviation(accel.orthonormal_loss_backward(w_b), reference.orthonormal_loss_backward(w_b)),
    )


def eq9_torch(case):
    (w_b,) = case.operands
    w = torch.from_numpy(w_b.copy()).requires_grad_()
    loss = regularization.orthonormal_penalty(w)
    loss.backward()
    want = reference.orthonormal_loss(w_b)
    return max(
        abs(loss.item() - want) / max(1.0, want), deviation(_numpy(w.grad), reference.orthonormal_loss_backward(w_b))
    )


EQUATIONS = (
    *NUMPY_EQUATIONS,
    *(agreement(op, "accel", _accel_results, "accel") for op in OPS),
    *(agreement(op, "torch", layer_results(False), "the PyTorch layer") for op in OPS),
    *(agreement(op, "torch-accel", layer_results(True), "the PyTorch layer on the accel backend") for op in OPS[1:]),
    Equation(
        "eq9-accel",
        "Eq. (9)",
        "accel: `L` and `dL/dW^B` equal the reference's",
        ("reference", "accel"),
        draw_w_b,
        eq9_accel,
    ),
    Equation(
        "eq9-torch",
        "Eq. (9)",
        "orthonormal_penalty and its autograd gradient equal the reference's",
        ("reference", "torch"),
        draw_w_b,
        eq9_torch,
    ),
)
