"""The orthonormal regularization of BSConv-S, Eq. (9): `L = ||W^B W^B^T - I||_F` (not squared).

With `E = W W^T - I` (M' x M', symmetric): `dL = (1 / L) sum_{ij} E_{ij} dE_{ij}` and `dE = dW W^T + W dW^T`,
so dL/dW = 2 E W / L. At L = 0 (orthonormal rows) the norm is not differentiable and the gradient
returned is 0, the minimum-norm subgradient, as in ``reference.orthonormal``.

Both are matrix products, `W W^T` and `E W`, so BLAS runs them (a loop over the `M'^2 M` products, the
first version of this file, ran them serially at a few GFLOP/s); ``matmul`` chooses the product as in
``accel.separable``.
"""

from __future__ import annotations

import numpy as np

from reference import checks


def _gram_minus_identity(w_b, matmul):
    """(`W` (M', M), `E = W W^T - I` (M', M')) for `W^B` given as (M', M) or (M', M, 1, 1)."""
    w_b = checks.check_w_b(w_b)
    w = w_b.reshape(w_b.shape[0], w_b.shape[1])  # M',M
    e = matmul(w, w.T)  # M',M'
    e[np.diag_indices_from(e)] -= 1.0
    return w, e


def orthonormal_loss(w_b, matmul=np.matmul) -> float:
    """Eq. (9): `||W^B W^B^T - I||_F` for `W^B` given as (M', M) or (M', M, 1, 1)."""
    _, e = _gram_minus_identity(w_b, matmul)
    return float(np.sqrt(np.vdot(e, e)))


def orthonormal_loss_backward(w_b, matmul=np.matmul):
    """`dL/dW^B = 2 (W W^T - I) W / L`, shaped like ``w_b``; 0 where `L = 0`."""
    w, e = _gram_minus_identity(w_b, matmul)
    loss = np.sqrt(np.vdot(e, e))
    if loss == 0.0:
        return np.zeros_like(w_b)
    return (matmul(e, w) * (2.0 / loss)).astype(w_b.dtype, copy=False).reshape(w_b.shape)
