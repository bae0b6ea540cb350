"""Pointwise (1 x 1) convolution, Eq. (6), (12), (13): one matrix product per sample, done by BLAS.

    y[b] = W @ x[b]          x[b] as (M, H W), W (N, M), y[b] (N, H W)

Backward: dx[b] = W^T @ dy[b] and dW = sum_b dy[b] @ x[b]^T.

The output may be channels-first (B, N, H W) or channels-last (B, H W, N), and likewise the incoming
gradient: the two are transposes of each other, and BLAS multiplies by a transposed operand without
copying it. So BSConv's pointwise step writes V' channels-last for the depthwise kernel at no cost,
and its backward reads dV' channels-last as the depthwise backward produces it; DSC's pointwise step
likewise reads U channels-last and gives dU channels-last.
"""
from __future__ import annotations

import numpy as np


def pointwise_forward(x, w, channels_last_out=False):
    """x (B, M, P), w (N, M, 1, 1) -> y (B, N, P), or (B, P, N) if ``channels_last_out``; a fresh C-contiguous array."""
    w_mat = w[:, :, 0, 0]  # N,M
    if channels_last_out:
        return np.matmul(x.transpose(0, 2, 1), w_mat.T)  # B,P,N
    return np.matmul(w_mat, x)  # B,N,P


def pointwise_backward(dy, x, w, dy_channels_last=False, channels_last_dx=False):
    """Gradients of ``pointwise_forward`` from dy (B, N, P) or (B, P, N): ``(dx, dw like w)``, dx (B, M, P),
    or (B, P, M) if ``channels_last_dx``; x (B, M, P) may be the transposed view of a channels-last array."""
    w_mat = w[:, :, 0, 0]  # N,M
    dy_mat = dy.transpose(0, 2, 1) if dy_channels_last else dy  # B,N,P
    if channels_last_dx:
        dx = np.matmul(dy_mat.transpose(0, 2, 1), w_mat)  # B,P,M
    else:
        dx = np.matmul(w_mat.T, dy_mat)  # B,M,P
    return dx, _sum_of_products(dy_mat, x).reshape(w.shape)


def _sum_of_products(a, b):
    """sum_i a[i] @ b[i]^T for a (B, N, P), b (B, M, P): one (N, M) product buffer reused over the batch,
    instead of a (B, N, M) stack that is summed afterwards."""
    total = np.matmul(a[0], b[0].T)  # N,M
    term = np.empty_like(total)
    for i in range(1, a.shape[0]):
        total += np.matmul(a[i], b[i].T, out=term)
    return total
