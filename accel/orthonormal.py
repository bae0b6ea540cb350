"""The orthonormal regularization of BSConv-S, Eq. (9): L = ||W^B W^B^T - I||_F (not squared).

With E = W W^T - I (M' x M', symmetric): dL = (1 / L) sum_ij E_ij dE_ij and dE = dW W^T + W dW^T,
so dL/dW = 2 E W / L. At L = 0 (orthonormal rows) the norm is not differentiable and the gradient
returned is 0, the minimum-norm subgradient, as in ``reference.orthonormal``.
"""
from __future__ import annotations

import numpy as np

from accel.jit import jit
from reference import checks


def _loss_and_grad(w):
    """w (M', M) -> (L, dL/dw): E = W W^T - I once, then both results from it."""
    m_sub, m = w.shape
    e = np.empty((m_sub, m_sub), dtype=w.dtype)  # M',M'
    total = 0.0
    for r in range(m_sub):
        for s in range(m_sub):
            acc = w.dtype.type(0.0)
            for k in range(m):
                acc += w[r, k] * w[s, k]
            e[r, s] = acc - (1.0 if r == s else 0.0)
            total += e[r, s] * e[r, s]
    loss = np.sqrt(total)
    grad = np.zeros_like(w)  # M',M
    if loss == 0.0:
        return loss, grad
    for r in range(m_sub):
        for s in range(m_sub):
            scale = 2.0 * e[r, s] / loss
            for k in range(m):
                grad[r, k] += scale * w[s, k]
    return loss, grad


loss_and_grad = jit(_loss_and_grad, parallel=False)


def _matrix(w_b):
    w_b = checks.check_w_b(w_b)
    return np.ascontiguousarray(w_b.reshape(w_b.shape[0], w_b.shape[1]))  # M',M


def orthonormal_loss(w_b) -> float:
    """Eq. (9): ||W^B W^B^T - I||_F for W^B given as (M', M) or (M', M, 1, 1)."""
    return float(loss_and_grad(_matrix(w_b))[0])


def orthonormal_loss_backward(w_b):
    """dL/dW^B = 2 (W W^T - I) W / L, shaped like ``w_b``; 0 where L = 0."""
    return loss_and_grad(_matrix(w_b))[1].reshape(w_b.shape)
