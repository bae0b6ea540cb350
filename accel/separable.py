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

With ``channels_last=True`` a forward takes x as (B, H, W, M) and returns y as (B, Ho, Wo, N), and its backward
takes dy and returns dx in that layout too: the accel backend's path for channels-last tensors, on which a
model's activations stay channels-last from layer to layer. X is then the transposed view of x (no fold), every depthwise step runs on
``accel.nhwc`` (``route.plan``), and V', U and dV' stay channels-last, so no step changes a layout.

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

    x: np.ndarray  # channel-major X (M, B*H*W) for BSConv (a transposed view when channels-last);
    # x (B,M,H,W) (planes) or (B,H,W,M) for DSC
    intermediates: tuple  # V' (N,B,H,W or B,H,W,N) for BSConv-U; U' (M',B*H*W) and V' for BSConv-S;
    # U as (M, B*Ho*Wo) (a transposed view when channels-last) for DSC
    weights: tuple
    has_bias: bool
    route: Route  # how the depthwise step ran (its geometry included), ``accel.route.plan``
    x_shape: tuple  # B,M,H,W (B,H,W,M when channels-last)
    y_shape: tuple  # B,N,Ho,Wo (B,Ho,Wo,N when channels-last)
    matmul: object  # the matrix product of the pointwise steps, forward and backward
    channels_last: bool  # x, y, dy and dx are (B, H, W, C)


def _grad(dy, cache):
    return np.ascontiguousarray(checks.check_grad("dy", dy, cache.y_shape, cache.x.dtype))


def _nchw_view(x, channels_last):
    """x as (B, C, H, W), the shape the reference's checks read: x itself, or channels-last x transposed (a view)."""
    return x.transpose(0, 3, 1, 2) if channels_last and isinstance(x, np.ndarray) and x.ndim == 4 else x


def _matrix(x, channels_last):
    """x as the channel-major matrix X (C, B H W): ``fold``'s copy of NCHW x, or the transposed view of channels-last x."""
    if channels_last:
        return np.ascontiguousarray(x).reshape(-1, x.shape[3]).T  # (L,C) viewed as C,L
    return fold(x)


def _image(x_mat, shape, channels_last):
    """The inverse of ``_matrix`` for a result: channel-major (C, L) -> NCHW ``shape`` (``unfold``), or a channels-last
    (L, C) result -> (B, H, W, C) ``shape`` (a view)."""
    return x_mat.reshape(shape) if channels_last else unfold(x_mat, shape)


def _depthwise_after_pointwise(x_mat, w_pw, w_dw, b, route, x_shape, matmul, channels_last):
    """V' = W X (Eq. 6, 13) in the layout the depthwise kernels read, then y = V' * B + b (Eq. 7) as NCHW, or
    channels-last with ``channels_last``."""
    if route.planar:
        nb, _, h, wd = x_shape
        v = pointwise_forward(x_mat, w_pw, matmul).reshape(-1, nb, h, wd)  # N,B,H,W
        return v, planar.depthwise_forward(v, w_dw, b, route, x_channel_major=True)  # B,N,Ho,Wo
    nb, h, wd = (x_shape[0], *x_shape[1:3]) if channels_last else (x_shape[0], *x_shape[2:])
    v = pointwise_forward(x_mat, w_pw, matmul, channels_last_out=True).reshape(nb, h, wd, -1)  # B,H,W,N
    return v, nhwc.depthwise_forward(v, w_dw, b, route.geometry, channels_last_out=channels_last)


def _depthwise_then_pointwise_backward(dy, v, x_mat, w_pw, w_dw, route, matmul, channels_last):
    """Backward of ``_depthwise_after_pointwise``: (dX, dW, dB, db), dX (M, L) channel-major, or (L, M) with
    ``channels_last``."""
    if route.planar:
        dv, dw_dw, db = planar.depthwise_backward(dy, v, w_dw, route, x_channel_major=True)  # N,B,H,W
        dv_mat = dv.reshape(dv.shape[0], -1)  # N,L
    else:
        dv, dw_dw, db = nhwc.depthwise_backward(dy, v, w_dw, route.geometry, dy_channels_last=channels_last)
        dv_mat = dv.reshape(-1, dv.shape[3]).T  # B,H,W,N viewed as N,L
    dx_mat, dw_pw = pointwise_backward(dv_mat, x_mat, w_pw, matmul, channels_last_dx=channels_last)  # M,L or L,M
    return dx_mat, dw_pw, dw_dw, db


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul, channels_last=False):
    """Sec. 4.1: depthwise with B' (M, 1, K, K), then pointwise with W (N, M, 1, 1), then + b.

    Returns ``(y, cache)``; x and y are (B, H, W, C) with ``channels_last`` (module docstring).
    """
    x_nchw = _nchw_view(x, channels_last)
    geometry = checks.check_dsc(x_nchw, w_dw, w_pw, b, stride, padding, dilation)
    route = plan(x_nchw.shape[0], x_nchw.shape[2:], w_dw.shape[2:], geometry, channels_last)
    nb, (ho, wo) = x_nchw.shape[0], geometry.out
    if route.planar:
        x_in = np.ascontiguousarray(x)  # B,M,H,W
        u = planar.depthwise_forward(x_in, w_dw, None, route, y_channel_major=True)  # M,B,Ho,Wo
        u_mat = u.reshape(u.shape[0], -1)  # M,L
    else:
        x_in = np.ascontiguousarray(x) if channels_last else to_channels_last(x)  # B,H,W,M
        u = nhwc.depthwise_forward(x_in, w_dw, None, geometry, channels_last_out=True)  # B,Ho,Wo,M
        u_mat = u.reshape(-1, u.shape[3]).T  # M,L (a transposed view: BLAS reads it as it is)
    if channels_last:
        y = pointwise_forward(u_mat, w_pw, matmul, channels_last_out=True).reshape(nb, ho, wo, -1)  # B,Ho,Wo,N
        if b is not None:
            y += b
    else:
        y = unfold(pointwise_forward(u_mat, w_pw, matmul), (nb, w_pw.shape[0], ho, wo), b)  # B,N,Ho,Wo, plus b
    cache = SeparableCache(x_in, (u_mat,), (w_dw, w_pw), b is not None, route, x.shape, y.shape, matmul, channels_last)
    return y, cache


def dsc_backward(dy, cache):
    """Pointwise backward (dU, dW, db), then the fused depthwise backward (dx, dB').

    Returns ``(dx, dw_dw, dw_pw, db)``; dy and dx channels-last if the forward was.
    """
    checks.check_cache("dsc", cache, weights=2, kind=SeparableCache)
    dy = _grad(dy, cache)
    (u_mat,), (w_dw, w_pw) = cache.intermediates, cache.weights
    if cache.channels_last:
        dy_mat = dy.reshape(-1, dy.shape[3])  # L,N
        db = dy_mat.sum(axis=0) if cache.has_bias else None
        du, dw_pw = pointwise_backward(dy_mat.T, u_mat, w_pw, cache.matmul, channels_last_dx=True)  # L,M
        du = du.reshape(*dy.shape[:3], -1)  # B,Ho,Wo,M
        dx, dw_dw, _ = nhwc.depthwise_backward(du, cache.x, w_dw, cache.route.geometry, True)
        return dx, dw_dw, dw_pw, db  # B,H,W,M
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


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul, channels_last=False):
    """Eq. (6)-(7): V' = W x (pointwise), then V = V' * B + b (depthwise).

    Returns ``(y, cache)``; x and y are (B, H, W, C) with ``channels_last`` (module docstring).
    """
    x_nchw = _nchw_view(x, channels_last)
    geometry = checks.check_bsconv_u(x_nchw, w_pw, w_dw, b, stride, padding, dilation)
    route = plan(x_nchw.shape[0], x_nchw.shape[2:], w_dw.shape[2:], geometry, channels_last)
    x_mat = _matrix(x, channels_last)  # M,L
    v, y = _depthwise_after_pointwise(x_mat, w_pw, w_dw, b, route, x.shape, matmul, channels_last)
    cache = SeparableCache(x_mat, (v,), (w_pw, w_dw), b is not None, route, x.shape, y.shape, matmul, channels_last)
    return y, cache


def bsconv_u_backward(dy, cache):
    """Fused depthwise backward (dV', dB, db in one pass over dy), then pointwise backward (dx, dW).

    Returns ``(dx, dw_pw, dw_dw, db)``; dy and dx channels-last if the forward was.
    """
    checks.check_cache("bsconv_u", cache, weights=2, kind=SeparableCache)
    dy = _grad(dy, cache)
    (v,), (w_pw, w_dw) = cache.intermediates, cache.weights
    dx_mat, dw_pw, dw_dw, db = _depthwise_then_pointwise_backward(
        dy, v, cache.x, w_pw, w_dw, cache.route, cache.matmul, cache.channels_last
    )
    return _image(dx_mat, cache.x_shape, cache.channels_last), dw_pw, dw_dw, db if cache.has_bias else None


def bsconv_s_forward(
    x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1, matmul=gemm.matmul, channels_last=False
):
    """Eq. (12)-(14): `U' = W^B x`, `V' = W^A U'` (pointwise), `V = V' * B + b` (depthwise).

    Returns ``(y, cache)``; x and y are (B, H, W, C) with ``channels_last`` (module docstring).
    """
    x_nchw = _nchw_view(x, channels_last)
    geometry = checks.check_bsconv_s(x_nchw, w_b, w_a, w_dw, b, stride, padding, dilation)
    route = plan(x_nchw.shape[0], x_nchw.shape[2:], w_dw.shape[2:], geometry, channels_last)
    x_mat = _matrix(x, channels_last)  # M,L
    u_prime = pointwise_forward(x_mat, w_b, matmul, channels_last_out=channels_last)  # M',L or L,M'
    u_mat = u_prime.T if channels_last else u_prime  # M',L
    v, y = _depthwise_after_pointwise(u_mat, w_a, w_dw, b, route, x.shape, matmul, channels_last)
    weights = (w_b, w_a, w_dw)
    cache = SeparableCache(x_mat, (u_mat, v), weights, b is not None, route, x.shape, y.shape, matmul, channels_last)
    return y, cache


def bsconv_s_backward(dy, cache):
    """Reverse of Eq. (12)-(14): fused depthwise backward, then the two pointwise backwards.

    Returns ``(dx, dw_b, dw_a, dw_dw, db)``; dy and dx channels-last if the forward was.
    """
    checks.check_cache("bsconv_s", cache, weights=3, kind=SeparableCache)
    dy = _grad(dy, cache)
    (u_mat, v), (w_b, w_a, w_dw) = cache.intermediates, cache.weights
    du_prime, dw_a, dw_dw, db = _depthwise_then_pointwise_backward(
        dy, v, u_mat, w_a, w_dw, cache.route, cache.matmul, cache.channels_last
    )  # M',L or L,M'
    du_mat = du_prime.T if cache.channels_last else du_prime  # M',L
    dx_mat, dw_b = pointwise_backward(du_mat, cache.x, w_b, cache.matmul, channels_last_dx=cache.channels_last)
    return _image(dx_mat, cache.x_shape, cache.channels_last), dw_b, dw_a, dw_dw, db if cache.has_bias else None
