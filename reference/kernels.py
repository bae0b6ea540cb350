"""The full (N, M, K, K) kernels that the factorized convolutions stand for.

Each function returns the kernel ``F`` of a regular convolution that computes the same as the
factorized op, so that ``conv2d_forward(x, bsconv_u_kernel(w_pw, w_dw))`` equals
``bsconv_u_forward(x, w_pw, w_dw)`` (and likewise for BSConv-S and DSC).
"""

from __future__ import annotations

import numpy as np

from reference import checks


def bsconv_u_kernel(w_pw, w_dw):
    """Eq. (2): `F_m^(n) = w_{n,m} B^(n)`, one blueprint per filter, scaled along the depth axis.

    w_pw (N, M, 1, 1) holds `W = (w_{n,m})`; w_dw (N, 1, K, K) holds the blueprints `B^(n)`.
    """
    checks.bsconv_u_weights(w_pw, w_dw)
    checks.same_dtype(w_pw=w_pw, w_dw=w_dw)
    return np.einsum("nm,nij->nmij", w_pw[:, :, 0, 0], w_dw[:, 0])  # N,M,K,K


def bsconv_s_kernel(w_b, w_a, w_dw):
    """Eq. (8) then Eq. (2): `W = W^A W^B`, then `F_m^(n) = w_{n,m} B^(n)`.

    w_b (M', M, 1, 1) is `W^B`, w_a (N, M', 1, 1) is `W^A`, w_dw (N, 1, K, K) the blueprints.
    """
    checks.bsconv_s_weights(w_b, w_a, w_dw)
    checks.same_dtype(w_b=w_b, w_a=w_a, w_dw=w_dw)
    w = w_a[:, :, 0, 0] @ w_b[:, :, 0, 0]  # N,M  (Eq. 8)
    return bsconv_u_kernel(w[:, :, None, None], w_dw)


def dsc_kernel(w_dw, w_pw):
    """Sec. 4.1: `F_m^(n) = w_{n,m} B'_m`, one 3-D blueprint `B'` (M, K, K) shared across all N filters.

    w_dw (M, 1, K, K) holds B', w_pw (N, M, 1, 1) holds W. This is the cross-kernel counterpart of
    Eq. (2): DSC is BSConv with the order of its two steps reversed.
    """
    checks.dsc_weights(w_dw, w_pw)
    checks.same_dtype(w_dw=w_dw, w_pw=w_pw)
    return np.einsum("nm,mij->nmij", w_pw[:, :, 0, 0], w_dw[:, 0])  # N,M,K,K
