"""DSC (Sec. 4.1), BSConv-U (Eq. 6-7) and BSConv-S (Eq. 12-14) on the accel kernels.

Same contract as the ``reference`` functions of the same names. Pointwise steps are single matrix
products over the whole batch (``accel.pointwise``), on the ``matmul`` given: by default accel's own
(``accel.gemm``), on the thread team of the other kernels; the accel backend of ``blueprint`` passes
PyTorch's, on channel-major matrices (C, B H W)
that ``accel.layout.fold`` / ``unfold`` make from and give back as NCHW, at about the cost of a copy.
The depthwise step runs one of two kernel families, on the route that ``accel.route.plan`` picks once
per forward (kept in the cache for the backward):

- ``accel.planar`` (stride 1, Wo = W, planes of at least ``route.MIN_PLANE`` pixels) reads and writes
  channel-major or NCHW planes as asked:
  BSConv's V' = W X comes channel-major straight from the product and its y goes out NCHW; DSC's
  depthwise step reads x NCHW and writes U channel-major for the product after it.
- ``accel.nhwc`` (smaller or strided planes) reads channels-last input, (B H W, C), which is
  the transpose of channel-major, so BSConv's product writes V' that way at no cost, and returns
  dV' channels-last, which the pointwise backward reads at no cost. DSC changes x to channels-last
  (``accel.layout.to_channels_last``) and keeps U and dU channels-last.

Each forward keeps the intermediate its backward needs (the folded x and V' for BSConv, U' too for
BSConv-S, U for DSC), so the backward recomputes nothing; no full (N, M, K, K) kernel and no im2col
matrix is ever formed.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel import gemm, nhwc, planar
from accel.layout import fold, to_channels_last, unfold
from accel.pointwise import pointwise_backward, pointwise_forward
from accel.route import Route, plan
from reference import checks


class SeparableCache(NamedTuple):
    """The forward's input, the intermediates its backward reuses, and the shapes."""

    x: np.ndarray  # channel-major X (M, B*H*W) for BSConv; x (B,M,H,W) (planes) or (B,H,W,M) for DSC
    intermediates: tuple  # V' (N,B,H,W or B,H,W,N) for BSConv-U; U' (M',B*H*W) and V' for BSConv-S;
    # U as (M, B*Ho*Wo) (a transposed view when channels-last) for DSC
    weights: tuple
    has_bias: bool
    route: Route  # how the depthwise step ran (its geometry included), ``accel.route.plan``
    x_shape: tuple  # B,M,H,W
    y_shape: tuple  # B,N,Ho,Wo
    matmul: object  # the matrix product of the pointwise steps, forward and backward


def _grad(dy, cache):
    return np.ascontiguousarray(checks.check_grad("dy", dy, cache.y_shape, cache.x.dtype))


def _depthwise_after_pointwise(x_mat, w_pw, w_dw, b, route, x_shape, matmul):
    """V' = W X (Eq. 6, 13) in the layout the depthwise kernels read, then y = V' * B + b (Eq. 7) as NCHW."""
    nb, _, h, wd = x_shape
    if route.planar:
        v = pointwise_forward(x_mat, w_pw, matmul).reshape(-1, nb, h, wd)  # N,B,H,W
        return v, planar.depthwise_forward(v, w_dw, b, route, x_channel_major=True)  # B,N,Ho,Wo
    v = pointwise_forward(x_mat, w_pw, matmul, channels_last_out=True).reshape(nb, h, wd, -1)  # B,H,W,N
    return v, nhwc.depthwise_forward(v, w_dw, b, route.geometry)  # B,N,Ho,Wo


def _depthwise_then_pointwise_backward(dy, v, x_mat, w_pw, w_dw, route, matmul):
    """Backward of ``_depthwise_after_pointwise``: (dX (M, L) channel-major, dW, dB, db)."""
    if route.planar:
        dv, dw_dw, db = planar.depthwise_backward(dy, v, w_dw, route, x_channel_major=True)  # N,B,H,W
        dv_mat = dv.reshape(dv.shape[0], -1)  # N,L
    else:
        dv, dw_dw, db = nhwc.depthwise_backward(dy, v, w_dw, route.geometry)  # B,H,W,N
        dv_mat = dv.reshape(-1, dv.shape[3]).T  # N,L (a transposed view)
    dx_mat, dw_pw = pointwise_backward(dv_mat, x_mat, w_pw, matmul)  # M,L
    return dx_mat, dw_pw, dw_dw, db


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul):
    """Sec. 4.1: depthwise with B' (M, 1, K, K), then pointwise with W (N, M, 1, 1), then + b.

    Returns ``(y, cache)``.
    """
    geometry = checks.check_dsc(x, w_dw, w_pw, b, stride, padding, dilation)
    route = plan(x.shape[0], x.shape[2:], w_dw.shape[2:], geometry)
    nb, (ho, wo) = x.shape[0], geometry.out
    if route.planar:
        x_in = np.ascontiguousarray(x)  # B,M,H,W
        u = planar.depthwise_forward(x_in, w_dw, None, route, y_channel_major=True)  # M,B,Ho,Wo
        u_mat = u.reshape(u.shape[0], -1)  # M,L
    else:
        x_in = to_channels_last(x)  # B,H,W,M
        u = nhwc.depthwise_forward(x_in, w_dw, None, geometry, channels_last_out=True)  # B,Ho,Wo,M
        u_mat = u.reshape(-1, u.shape[3]).T  # M,L (a transposed view: BLAS reads it as it is)
    y = unfold(pointwise_forward(u_mat, w_pw, matmul), (nb, w_pw.shape[0], ho, wo), b)  # B,N,Ho,Wo, plus b
    return y, SeparableCache(x_in, (u_mat,), (w_dw, w_pw), b is not None, route, x.shape, y.shape, matmul)


def dsc_backward(dy, cache):
    """Pointwise backward (dU, dW, db), then the fused depthwise backward (dx, dB').

    Returns ``(dx, dw_dw, dw_pw, db)``.
    """
    checks.check_cache("dsc", cache, weights=2, kind=SeparableCache)
    dy = _grad(dy, cache)
    (u_mat,), (w_dw, w_pw) = cache.intermediates, cache.weights
    nb, _, ho, wo = dy.shape
    dy_mat, db = fold(dy, channel_sums=True)  # N,L and db = sum of dy over B, Ho, Wo
    db = db if cache.has_bias else None
    if cache.route.planar:
        du, dw_pw = pointwise_backward(dy_mat, u_mat, w_pw, cache.matmul)  # M,L
        du = du.reshape(-1, nb, ho, wo)  # M,B,Ho,Wo
        dx, dw_dw, _ = planar.depthwise_backward(du, cache.x, w_dw, cache.route, dy_channel_major=True)
        return dx, dw_dw, dw_pw, db  # B,M,H,W
    du, dw_pw = pointwise_backward(dy_mat, u_mat, w_pw, cache.matmul, channels_last_dx=True)  # L,M
    du = du.reshape(nb, ho, wo, -1)  # B,Ho,Wo,M
    dx, dw_dw, _ = nhwc.depthwise_backward(du, cache.x, w_dw, cache.route.geometry, True, nchw_dx=True)
    return dx, dw_dw, dw_pw, db  # B,M,H,W


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul):
    """Eq. (6)-(7): V' = W x (pointwise, BLAS), then V = V' * B + b (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation)
    route = plan(x.shape[0], x.shape[2:], w_dw.shape[2:], geometry)
    x_mat = fold(x)  # M,L
    v, y = _depthwise_after_pointwise(x_mat, w_pw, w_dw, b, route, x.shape, matmul)
    return y, SeparableCache(x_mat, (v,), (w_pw, w_dw), b is not None, route, x.shape, y.shape, matmul)


def bsconv_u_backward(dy, cache):
    """Fused depthwise backward (dV', dB, db in one pass over dy), then pointwise backward (dx, dW).

    Returns ``(dx, dw_pw, dw_dw, db)``.
    """
    checks.check_cache("bsconv_u", cache, weights=2, kind=SeparableCache)
    dy = _grad(dy, cache)
    (v,), (w_pw, w_dw) = cache.intermediates, cache.weights
    dx_mat, dw_pw, dw_dw, db = _depthwise_then_pointwise_backward(dy, v, cache.x, w_pw, w_dw, cache.route, cache.matmul)
    return unfold(dx_mat, cache.x_shape), dw_pw, dw_dw, db if cache.has_bias else None


def bsconv_s_forward(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul):
    """Eq. (12)-(14): `U' = W^B x`, `V' = W^A U'` (BLAS), `V = V' * B + b` (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation)
    route = plan(x.shape[0], x.shape[2:], w_dw.shape[2:], geometry)
    x_mat = fold(x)  # M,L
    u_prime = pointwise_forward(x_mat, w_b, matmul)  # M',L
    v, y = _depthwise_after_pointwise(u_prime, w_a, w_dw, b, route, x.shape, matmul)
    cache = SeparableCache(x_mat, (u_prime, v), (w_b, w_a, w_dw), b is not None, route, x.shape, y.shape, matmul)
    return y, cache


def bsconv_s_backward(dy, cache):
    """Reverse of Eq. (12)-(14): fused depthwise backward, then the two pointwise backwards.

    Returns ``(dx, dw_b, dw_a, dw_dw, db)``.
    """
    checks.check_cache("bsconv_s", cache, weights=3, kind=SeparableCache)
    dy = _grad(dy, cache)
    (u_prime, v), (w_b, w_a, w_dw) = cache.intermediates, cache.weights
    du_prime, dw_a, dw_dw, db = _depthwise_then_pointwise_backward(
        dy, v, u_prime, w_a, w_dw, cache.route, cache.matmul
    )  # M',L
    dx_mat, dw_b = pointwise_backward(du_prime, cache.x, w_b, cache.matmul)  # M,L
    return unfold(dx_mat, cache.x_shape), dw_b, dw_a, dw_dw, db if cache.has_bias else None
