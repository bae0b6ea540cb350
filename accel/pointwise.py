"""Pointwise (1 x 1) convolution, Eq. (6), (12), (13): one matrix product per sample, done by BLAS.

    y[b] = W @ x[b]          x[b] as (M, H W), W (N, M), y[b] (N, H W)

Backward: dx[b] = W^T @ dy[b] and dW = sum_b dy[b] @ x[b]^T.

The output may be channels-first (B, N, H W) or channels-last (B, H W, N), and likewise the incoming
gradient: the two are transposes of each other, and BLAS multiplies by a transposed operand without
copying it. So BSConv's pointwise step writes V' channels-last for the depthwise kernel at no cost,
and its backward reads dV' channels-last as the depthwise backward produces it; DSC's pointwise step
likewise reads U channels-last and gives dU channels-last.

OpenBLAS is fastest when both operands are row-major (measured here, 2 cores, float32: 3-30% on
these shapes), so the small W^T is made contiguous once, and dW is computed in whichever
orientation, dW or dW^T, has two row-major operands; on small planes dW is one product over the batch.
"""
from __future__ import annotations

import numpy as np


def pointwise_forward(x, w, channels_last_out=False):
    """x (B, M, P), w (N, M, 1, 1) -> y (B, N, P), or (B, P, N) if ``channels_last_out``; a fresh C-contiguous array."""
    w_mat = w[:, :, 0, 0]  # N,M
    if channels_last_out:
        return np.matmul(x.transpose(0, 2, 1), np.ascontiguousarray(w_mat.T))  # B,P,N
    return np.matmul(w_mat, x)  # B,N,P


def pointwise_backward(dy, x, w, dy_channels_last=False, channels_last_dx=False):
    """Gradients of ``pointwise_forward`` from dy (B, N, P) or (B, P, N): ``(dx, dw like w)``, dx (B, M, P),
    or (B, P, M) if ``channels_last_dx``; x (B, M, P) may be the transposed view of a channels-last array."""
    w_mat = w[:, :, 0, 0]  # N,M
    dy_mat = dy.transpose(0, 2, 1) if dy_channels_last else dy  # B,N,P
    if channels_last_dx:
        dx = np.matmul(dy_mat.transpose(0, 2, 1), w_mat)  # B,P,M
    else:
        dx = np.matmul(np.ascontiguousarray(w_mat.T), dy_mat)  # B,M,P
    return dx, _sum_of_products(dy_mat, x).reshape(w.shape)


ONE_PRODUCT_MAX_P = 128  # measured: at P <= 128 one product over the batch beats B products of inner size P


def _sum_of_products(a, b):
    """sum_i a[i] @ b[i]^T for a (B, N, P), b (B, M, P).

    If a is the transposed view of a channels-last (B, P, N) array, the sum is formed as
    (sum_i b[i] @ a[i]^T)^T, whose operands are row-major. For small planes (P <= ``ONE_PRODUCT_MAX_P``)
    it is one product with inner size B P, A (N, B P) @ B^T (B P, M), with A = a copied to (N, B, P);
    otherwise one (N, M) product buffer is reused over the batch (no (B, N, M) stack is formed).
    """
    if a.strides[2] > a.strides[1] and b.strides[2] <= b.strides[1]:
        return _sum_of_products(b, a).T  # N,M
    nb, n, p = a.shape
    if p <= ONE_PRODUCT_MAX_P:
        a_all = np.ascontiguousarray(a.transpose(1, 0, 2)).reshape(n, nb * p)  # N,B*P
        return a_all @ b.transpose(0, 2, 1).reshape(nb * p, -1)  # N,M
    total = np.matmul(a[0], b[0].T)  # N,M
    term = np.empty_like(total)
    for i in range(1, nb):
        total += np.matmul(a[i], b[i].T, out=term)
    return total
