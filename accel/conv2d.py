"""Regular (grouped) 2-D convolution, Eq. (1): im2col and one matrix product per group (BLAS).

Same contract as ``reference.conv2d_forward`` / ``conv2d_backward``. A depthwise convolution
(groups = M = N) skips im2col and runs the depthwise kernels on the route ``accel.route.plan``
picks (``accel.planar`` or the channels-last ``accel.nhwc``).

Backward, from the forward's matrix form Y_g = W_g @ cols_g (per sample, per group):
dW_g = sum_b dY_g cols_g^T, dcols_g = W_g^T dY_g, dx = col2im(dcols) (the adjoint of the gather),
db = the sum of dy over batch and space.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel import nhwc, planar
from accel.im2col import col2im, im2col
from accel.layout import to_channels_last
from accel.route import Route, plan
from reference import checks


class Conv2dCache(NamedTuple):
    """What ``conv2d_backward`` needs: the input (depthwise) or its im2col matrix (general), and the shapes."""

    x_or_cols: np.ndarray  # B,M,H,W (depthwise on planes), B,H,W,M (depthwise channels-last) or B,M*KH*KW,Ho*Wo
    w: np.ndarray  # N,M/G,KH,KW
    has_bias: bool
    geometry: checks.Geometry
    groups: int
    x_shape: tuple
    route: Route | None  # the depthwise route (``accel.route.plan``), None for a general convolution


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Eq. (1): y = x * w (+ b), grouped; x (B, M, H, W), w (N, M/G, KH, KW) -> y (B, N, Ho, Wo).

    Returns ``(y, cache)``.
    """
    geometry, groups = checks.check_conv2d(x, w, b, stride, padding, dilation, groups)
    out_hw = geometry.out
    x = np.ascontiguousarray(x)
    nb, m = x.shape[:2]
    n = w.shape[0]
    if groups == m == n:
        route = plan(nb, x.shape[2:], w.shape[2:], geometry)
        if route.planar:
            y = planar.depthwise_forward(x, w, b, route)  # B,N,Ho,Wo
            return y, Conv2dCache(x, w, b is not None, geometry, groups, x.shape, route)
        x_in = to_channels_last(x)  # B,H,W,M
        y = nhwc.depthwise_forward(x_in, w, b, geometry)  # B,N,Ho,Wo
        return y, Conv2dCache(x_in, w, b is not None, geometry, groups, x.shape, route)
    cols = im2col(x, w.shape[2:], geometry)  # B,M*KH*KW,Ho*Wo
    w_mat = w.reshape(groups, n // groups, -1)  # G,Ng,Mg*KH*KW
    y = np.matmul(w_mat, cols.reshape(nb, groups, w_mat.shape[2], -1))  # B,G,Ng,Ho*Wo
    y = y.reshape(nb, n, *out_hw)  # B,N,Ho,Wo
    if b is not None:
        y += b[None, :, None, None]
    return y, Conv2dCache(cols, w, b is not None, geometry, groups, x.shape, None)


def conv2d_backward(dy, cache):
    """Gradients of ``conv2d_forward`` (derivation in the module docstring): ``(dx, dw, db)``, db None without bias."""
    checks.check_cache("conv2d", cache, kind=Conv2dCache)
    x_or_cols, w, has_bias, geometry, groups, x_shape, route = cache
    nb, n = x_shape[0], w.shape[0]
    dy = np.ascontiguousarray(checks.check_grad("dy", dy, (nb, n, *geometry.out), w.dtype))
    if route is not None:
        if route.planar:
            dx, dw, db = planar.depthwise_backward(dy, x_or_cols, w, route)  # B,M,H,W
        else:
            dx, dw, db = nhwc.depthwise_backward(dy, x_or_cols, w, geometry, nchw_dx=True)  # B,M,H,W
        return dx, dw, db if has_bias else None
    w_mat = w.reshape(groups, n // groups, -1)  # G,Ng,Mg*KH*KW
    dy_mat = dy.reshape(nb, groups, n // groups, -1)  # B,G,Ng,Ho*Wo
    cols = x_or_cols.reshape(nb, groups, w_mat.shape[2], -1)  # B,G,Mg*KH*KW,Ho*Wo
    dw = np.matmul(dy_mat, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(w.shape)  # N,Mg,KH,KW
    d_cols = np.matmul(w_mat.transpose(0, 2, 1), dy_mat)  # B,G,Mg*KH*KW,Ho*Wo
    dx = col2im(d_cols.reshape(x_or_cols.shape), x_shape, w.shape[2:], geometry)  # B,M,H,W
    db = dy.sum(axis=(0, 2, 3)) if has_bias else None
    return dx, dw, db
