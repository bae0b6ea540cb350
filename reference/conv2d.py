"""Regular (grouped) 2-D convolution, Eq. (1) and (3), vectorized with im2col.

Shapes (PyTorch's conventions): x (B, M, H, W), w (N, M/G, KH, KW), b (N,), y (B, N, H_out, W_out) with

    H_out = floor((H + 2 P - D (KH - 1) - 1) / S) + 1            (same for W)

The convolution is the cross-correlation used by every deep-learning framework:

    y[bi, n, p, q] = b[n] + sum_{m, i, j} x_pad[bi, g M_g + m, p S + i D, q S + j D] w[n, m, i, j]

with g = n // N_g the group of output channel n, bi the sample of the batch and b the bias (the argument
``b``; the book's notation page calls it beta). ``reference.naive`` spells this out in loops; here,
for each sample and group, one matrix product of the group's weights (N_g, M_g KH KW) with the im2col
matrix of its input (M_g KH KW, H_out W_out).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from reference import checks


class ConvShapes(NamedTuple):
    """Everything the backward pass needs to know about the forward's shapes (its geometry from ``checks.Geometry``)."""

    x_shape: tuple  # B, M, H, W
    w_shape: tuple  # N, M_g, KH, KW
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out_hw: tuple  # H_out, W_out


def pad_spatial(x: np.ndarray, padding: tuple) -> np.ndarray:
    """Zero-pad the two spatial axes of an NCHW array."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def im2col(x_pad: np.ndarray, geo: ConvShapes) -> np.ndarray:
    """(B, M, Hp, Wp) -> (B, G, M_g KH KW, H_out W_out): one column per output pixel, per sample and group.

    Keeping the batch axis first makes every later reshape a view: for a 1x1 convolution with stride 1 and
    no padding the result is x itself, reshaped.
    """
    b, m, _, _ = x_pad.shape
    _, m_g, kh, kw = geo.w_shape
    ho, wo = geo.out_hw
    sb, sm, sh, sw = x_pad.strides
    taps = as_strided(
        x_pad,
        shape=(b, m, kh, kw, ho, wo),  # B,M,KH,KW,Ho,Wo
        strides=(sb, sm, sh * geo.dilation[0], sw * geo.dilation[1], sh * geo.stride[0], sw * geo.stride[1]),
        writeable=False,
    )
    return taps.reshape(b, geo.groups, m_g * kh * kw, ho * wo)  # B,G,Mg*KH*KW,Ho*Wo


def col2im(tap_gradient, geo: ConvShapes, dtype) -> np.ndarray:
    """Adjoint of ``im2col``: scatter-add each tap's gradient back onto (B, M, H, W).

    ``tap_gradient(i, j)`` gives the (B, M, H_out, W_out) gradient that reached the inputs tap (i, j) gathered;
    it lands where that tap read, shifted by (i D, j D) and strided by S.
    """
    b, m, h, w = geo.x_shape
    _, _, kh, kw = geo.w_shape
    ho, wo = geo.out_hw
    (sh, sw), (ph, pw), (dh, dw) = geo.stride, geo.padding, geo.dilation
    dx_pad = np.zeros((b, m, h + 2 * ph, w + 2 * pw), dtype=dtype)  # B,M,Hp,Wp
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
            columns = slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)
            dx_pad[:, :, rows, columns] += tap_gradient(i, j)
    return dx_pad[:, :, ph : ph + h, pw : pw + w]


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Eq. (1): y = x * w (+ b), grouped. Returns ``(y, cache)``; y is (B, N, H_out, W_out)."""
    geometry, groups = checks.check_conv2d(x, w, b, stride, padding, dilation, groups)
    stride, padding, dilation, out_hw = geometry
    geo = ConvShapes(x.shape, w.shape, stride, padding, dilation, groups, out_hw)
    n = w.shape[0]
    cols = im2col(pad_spatial(x, padding), geo)  # B, G, Mg*KH*KW, Ho*Wo
    w_mat = w.reshape(groups, n // groups, -1)  # G, Ng, Mg*KH*KW
    y = (w_mat @ cols).reshape(x.shape[0], n, *out_hw)  # B,G,Ng,Ho*Wo -> B,N,Ho,Wo
    if b is not None:
        y += b[None, :, None, None]
    return y, (cols, w, b is not None, geo)


def conv2d_backward(dy, cache):
    """Gradients of ``conv2d_forward``. Returns ``(dx, dw, db)``; db is None when there was no bias.

    With Y_bi = W_mat @ cols_bi per sample bi and group (the forward's matrix form):
    `dW_mat = sum_{bi} dY_{bi} cols_{bi}^T`, `dcols_{bi} = W_mat^T dY_{bi}`, and `dx = col2im(dcols)`, the adjoint of
    the im2col gather; db sums dy over batch and space.
    """
    checks.check_cache("conv2d", cache, 4)
    cols, w, has_bias, geo = cache
    b, n = geo.x_shape[0], geo.w_shape[0]
    checks.check_grad("dy", dy, (b, n, *geo.out_hw), w.dtype)
    dy_mat = np.ascontiguousarray(dy).reshape(b, geo.groups, n // geo.groups, -1)  # B, G, Ng, Ho*Wo
    w_mat = w.reshape(geo.groups, n // geo.groups, -1)  # G, Ng, Mg*KH*KW
    dw = (dy_mat @ cols.swapaxes(2, 3)).sum(axis=0).reshape(w.shape)  # B,G,Ng,Mg*KH*KW -> N,Mg,KH,KW
    m_g, kh, kw = geo.w_shape[1:]
    shape = (b, geo.x_shape[1], *geo.out_hw)  # B,M,Ho,Wo: the gradient reaching one tap's inputs
    if n // geo.groups == 1:
        # One output channel per group (depthwise): dcols = W^T dY is an outer product. Each tap's part,
        # w[:, :, i, j] dY, is formed as it is scattered, never the whole K^2-times-larger dcols.
        w_taps = w.reshape(geo.groups, m_g, kh, kw)  # G,Mg,KH,KW

        def tap_gradient(i, j):
            return (w_taps[None, :, :, i, j, None] * dy_mat).reshape(shape)  # B,G,Mg,Ho*Wo

    else:
        dcols = (w_mat.swapaxes(1, 2) @ dy_mat).reshape(b, geo.groups, m_g, kh, kw, -1)  # B,G,Mg,KH,KW,Ho*Wo

        def tap_gradient(i, j):
            return dcols[:, :, :, i, j].reshape(shape)

    dx = col2im(tap_gradient, geo, w.dtype)  # B, M, H, W
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    return np.ascontiguousarray(dx), dw, db
