"""The orthonormal regularization of BSConv-S, Eq. (9): `L = ||W^B W^B^T - I||_F` (not squared).

Derivation of the gradient. Let `E = W W^T - I` (M' x M', symmetric) and `L^2 = sum_{ij} E_{ij}^2`.
Then `dL = (1 / L) sum_{ij} E_{ij} dE_{ij}` and `dE = dW W^T + W dW^T`, so
`dL = (1 / L) tr(E^T (dW W^T + W dW^T)) = (2 / L) tr(W^T E dW)`, i.e.

    dL/dW = 2 E W / L.

At `L = 0` (`W W^T = I` exactly: the rows of `W` are orthonormal) L is not differentiable: along any
direction `D` it grows like `|t| ||D W^T + W D^T||_F` for `t > 0` and t < 0 alike, a kink. L is not convex,
so there are no subgradients in the convex sense; its set of generalized (Clarke) gradients there is
`{(G + G^T) W : ||G||_F <= 1}`, which is not a ball but contains 0. We return 0 (which is also what
PyTorch returns for the gradient of a norm at zero), the right answer for optimization: W is then a
minimum of L.
"""

from __future__ import annotations

import numpy as np

from reference import checks


def _as_matrix(w_b):
    w_b = checks.check_w_b(w_b)
    return w_b.reshape(w_b.shape[0], w_b.shape[1])  # M',M


def orthonormal_loss(w_b) -> float:
    """Eq. (9): `||W^B W^B^T - I||_F` for `W^B` given as (M', M) or (M', M, 1, 1)."""
    w = _as_matrix(w_b)
    e = w @ w.T - np.eye(w.shape[0], dtype=w.dtype)  # M',M'
    return float(np.sqrt(np.sum(e * e)))


def orthonormal_loss_backward(w_b):
    """`dL/dW^B = 2 (W W^T - I) W / L`, shaped like ``w_b``; 0 where `L = 0` (see the module docstring)."""
    w = _as_matrix(w_b)
    e = w @ w.T - np.eye(w.shape[0], dtype=w.dtype)  # M',M'
    loss = np.sqrt(np.sum(e * e))
    if loss == 0.0:
        return np.zeros_like(w_b)
    return (2.0 * (e @ w) / loss).reshape(w_b.shape).astype(w_b.dtype, copy=False)
