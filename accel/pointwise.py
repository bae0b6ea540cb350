"""Pointwise (1 x 1) convolution, Eq. (6), (12), (13): one matrix product over the whole batch, by BLAS.

With the batch folded into the columns (``accel.layout.fold``: x as the channel-major matrix X of
shape (M, L), L = B H W pixels), the step is a single product

    Y = W X          W (N, M), X (M, L), Y (N, L)

and its backward two more: dX = W^T dY and dW = dY X^T (inner size L, so the batch sum is part of
the product). One large product runs near the machine's matrix-multiply peak, where B per-sample
products of inner size H W run at half of it (``accel.layout`` gives the figures).

Either matrix may also be channels-last, (L, C), the transpose of channel-major: the depthwise
kernels of ``accel.nhwc`` read and write that layout, and BLAS multiplies by a transposed
operand without copying it. So X and dY may be passed as transposed views, and Y and dX written
channels-last (``channels_last_out``, ``channels_last_dx``), at no cost. W^T is passed as the
transposed view of W too: copying it to row-major first costs more than it saves (measured here:
0.07 ms of 0.23 on the 256-channel 8 x 8 shape). dW is formed in whichever orientation, dW or dW^T,
has row-major operands, which OpenBLAS multiplies fastest on these shapes (measured: up to 15%).
"""

from __future__ import annotations

import numpy as np


def pointwise_forward(x_mat, w, matmul, channels_last_out=False):
    """x_mat (M, L), w (N, M, 1, 1) -> y (N, L), or (L, N) if ``channels_last_out``; a fresh C-contiguous array
    from ``matmul(a, b)``, the matrix product used (``numpy.matmul``, or the caller's BLAS)."""
    w_mat = w[:, :, 0, 0]  # N,M
    if channels_last_out:
        return matmul(x_mat.T, w_mat.T)  # L,N
    return matmul(w_mat, x_mat)  # N,L


def pointwise_backward(dy_mat, x_mat, w, matmul, channels_last_dx=False):
    """Gradients of ``pointwise_forward`` from dy_mat (N, L): ``(dx, dw like w)``, dx (M, L), or (L, M) if
    ``channels_last_dx``. dy_mat and x_mat may be transposed views of channels-last (L, N) and (L, M) arrays."""
    w_mat = w[:, :, 0, 0]  # N,M
    if channels_last_dx:
        dx = matmul(dy_mat.T, w_mat)  # L,M
    else:
        dx = matmul(w_mat.T, dy_mat)  # M,L
    if _row_major(dy_mat) or not _row_major(x_mat):
        dw = matmul(dy_mat, x_mat.T)  # N,M
    else:
        dw = matmul(x_mat, dy_mat.T).T  # (M,N)^T: dy_mat is channels-last, x_mat channel-major
    return dx, np.ascontiguousarray(dw).reshape(w.shape)


def _row_major(a):
    return a.strides[1] <= a.strides[0]
