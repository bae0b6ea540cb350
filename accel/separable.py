"""DSC (Sec. 4.1), BSConv-U (Eq. 6-7) and BSConv-S (Eq. 12-14) on the accel kernels.

Same contract as the ``reference`` functions of the same names. Pointwise steps are BLAS matrix
products (``accel.pointwise``); the depthwise step runs one of two kernel families, picked by
``accel.planes.suits`` for the geometry: ``accel.planes`` (NCHW in and out, for large stride-1
planes) or ``accel.depthwise`` (input channels-last, output NCHW, backward dx channels-last). For
BSConv the pointwise products around the depthwise step produce and consume whichever layout it
reads, at no cost; DSC on planes transposes nothing, DSC channels-last transposes x on the way in
(``accel.layout``; dx comes back NCHW from the depthwise backward) and keeps U and dU
channels-last, which its pointwise products read and write at no cost. Each forward keeps the
intermediate its backward needs (V' for BSConv, U' and V' for BSConv-S, the depthwise output for
DSC), so the backward recomputes nothing; no full (N, M, K, K) kernel and no im2col matrix is ever formed.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel import depthwise, planes
from accel.layout import to_channels_last
from accel.pointwise import pointwise_backward, pointwise_forward
from reference import checks


class SeparableCache(NamedTuple):
    """The forward's input, the intermediates its backward reuses, and the output's shape."""

    x: np.ndarray  # B,M,H,W (BSConv; DSC on planes) or B,H,W,M (DSC channels-last)
    intermediates: tuple  # V' (B,H,W,N or B,N,H,W) for BSConv-U; U' (B,M',H*W) and V' for BSConv-S;
    # U as (B,M,Ho*Wo) for DSC
    weights: tuple
    has_bias: bool
    geometry: tuple  # stride, padding, dilation, (Ho, Wo)
    y_shape: tuple  # B,N,Ho,Wo
    on_planes: bool  # which depthwise kernels ran: ``accel.planes`` (NCHW) or ``accel.depthwise`` (channels-last)


def _kernels(on_planes):
    return planes if on_planes else depthwise


def _grad(dy, cache):
    return np.ascontiguousarray(checks.check_grad("dy", dy, cache.y_shape, cache.x.dtype))


def _matrices(a):
    """(B, C, H, W) -> the (B, C, H W) view of a C-contiguous array."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def _pointwise_into_depthwise(x_mat, w, x_shape, on_planes):
    """V' = W x as the depthwise kernels read it: (B, N, H, W) for planes, (B, H, W, N) channels-last."""
    nb, _, h, wd = x_shape
    if on_planes:
        return pointwise_forward(x_mat, w).reshape(nb, -1, h, wd)  # B,N,H,W
    return pointwise_forward(x_mat, w, channels_last_out=True).reshape(nb, h, wd, -1)  # B,H,W,N


def _pointwise_from_depthwise(dv, x_mat, w, on_planes):
    """(dx (B, M, H W), dW) of V' = W x from dV' in the depthwise kernels' layout."""
    if on_planes:
        return pointwise_backward(_matrices(dv), x_mat, w)
    nb, h, wd, n = dv.shape
    return pointwise_backward(dv.reshape(nb, h * wd, n), x_mat, w, dy_channels_last=True)


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1):
    """Sec. 4.1: depthwise with B' (M, 1, K, K), then pointwise with W (N, M, 1, 1), then + b.

    Returns ``(y, cache)``.
    """
    geometry = checks.check_dsc(x, w_dw, w_pw, b, stride, padding, dilation)
    on_planes = planes.suits(x.shape[2:], geometry)
    nb, ho, wo = x.shape[0], *geometry[3]
    if on_planes:
        x_in = np.ascontiguousarray(x)  # B,M,H,W
        u = planes.depthwise_forward(x_in, w_dw, None, geometry)  # B,M,Ho,Wo
        u_mat = _matrices(u)  # B,M,Ho*Wo
    else:
        x_in = to_channels_last(x)  # B,H,W,M
        u = depthwise.depthwise_forward(x_in, w_dw, None, geometry, channels_last_out=True)  # B,Ho,Wo,M
        u_mat = u.reshape(nb, ho * wo, -1).transpose(0, 2, 1)  # B,M,Ho*Wo (a view: BLAS reads it transposed)
    y = pointwise_forward(u_mat, w_pw).reshape(nb, -1, ho, wo)  # B,N,Ho,Wo
    if b is not None:
        y += b[None, :, None, None]
    return y, SeparableCache(x_in, (u_mat,), (w_dw, w_pw), b is not None, geometry, y.shape, on_planes)


def dsc_backward(dy, cache):
    """Pointwise backward (dU, dW, db), then the fused depthwise backward (dx, dB').

    Returns ``(dx, dw_dw, dw_pw, db)``.
    """
    dy = _grad(dy, cache)
    (u_mat,), (w_dw, w_pw) = cache.intermediates, cache.weights
    nb, _, ho, wo = dy.shape
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    if cache.on_planes:
        du, dw_pw = pointwise_backward(_matrices(dy), u_mat, w_pw)  # B,M,Ho*Wo
        dx, dw_dw, _ = planes.depthwise_backward(du.reshape(nb, -1, ho, wo), cache.x, w_dw, cache.geometry)
        return dx, dw_dw, dw_pw, db  # B,M,H,W
    du_cl, dw_pw = pointwise_backward(_matrices(dy), u_mat, w_pw, channels_last_dx=True)  # B,Ho*Wo,M
    du_cl = du_cl.reshape(nb, ho, wo, -1)  # B,Ho,Wo,M
    dx, dw_dw, _ = depthwise.depthwise_backward(du_cl, cache.x, w_dw, cache.geometry, True, nchw_dx=True)
    return dx, dw_dw, dw_pw, db  # B,M,H,W


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (6)-(7): V' = W x (pointwise, BLAS), then V = V' * B + b (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    on_planes = planes.suits(x.shape[2:], geometry)
    v = _pointwise_into_depthwise(_matrices(x), w_pw, x.shape, on_planes)  # B,N,H,W or B,H,W,N
    y = _kernels(on_planes).depthwise_forward(v, w_dw, b, geometry)  # B,N,Ho,Wo
    return y, SeparableCache(x, (v,), (w_pw, w_dw), b is not None, geometry, y.shape, on_planes)


def bsconv_u_backward(dy, cache):
    """Fused depthwise backward (dV', dB, db in one pass over dy), then pointwise backward (dx, dW).

    Returns ``(dx, dw_pw, dw_dw, db)``.
    """
    dy = _grad(dy, cache)
    (v,), (w_pw, w_dw) = cache.intermediates, cache.weights
    dv, dw_dw, db = _kernels(cache.on_planes).depthwise_backward(dy, v, w_dw, cache.geometry)  # like V'
    dx, dw_pw = _pointwise_from_depthwise(dv, _matrices(cache.x), w_pw, cache.on_planes)
    return dx.reshape(cache.x.shape), dw_pw, dw_dw, db if cache.has_bias else None


def bsconv_s_forward(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (12)-(14): U' = W^B x, V' = W^A U' (BLAS), V = V' * B + b (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    on_planes = planes.suits(x.shape[2:], geometry)
    u_prime = pointwise_forward(_matrices(x), w_b)  # B,M',H*W
    v = _pointwise_into_depthwise(u_prime, w_a, x.shape, on_planes)  # B,N,H,W or B,H,W,N
    y = _kernels(on_planes).depthwise_forward(v, w_dw, b, geometry)  # B,N,Ho,Wo
    return y, SeparableCache(x, (u_prime, v), (w_b, w_a, w_dw), b is not None, geometry, y.shape, on_planes)


def bsconv_s_backward(dy, cache):
    """Reverse of Eq. (12)-(14): fused depthwise backward, then the two pointwise backwards.

    Returns ``(dx, dw_b, dw_a, dw_dw, db)``.
    """
    dy = _grad(dy, cache)
    (u_prime, v), (w_b, w_a, w_dw) = cache.intermediates, cache.weights
    dv, dw_dw, db = _kernels(cache.on_planes).depthwise_backward(dy, v, w_dw, cache.geometry)  # like V'
    du_prime, dw_a = _pointwise_from_depthwise(dv, u_prime, w_a, cache.on_planes)  # B,M',H*W
    dx, dw_b = pointwise_backward(du_prime, _matrices(cache.x), w_b)  # B,M,H*W
    return dx.reshape(cache.x.shape), dw_b, dw_a, dw_dw, db if cache.has_bias else None
