"""DSC (Sec. 4.1), BSConv-U (Eq. 6-7) and BSConv-S (Eq. 12-14) on the accel kernels.

Same contract as the ``reference`` functions of the same names. Pointwise steps are BLAS matrix
products (``accel.pointwise``); the depthwise step is the Numba kernel of ``accel.depthwise``, which
reads its input channels-last and writes NCHW, and whose fused backward reads dy NCHW and writes dx
channels-last. For BSConv the pointwise products around it produce and consume exactly those
layouts, so nothing is ever transposed; DSC transposes x on the way in and dx on the way out
(``accel.layout``). Each forward keeps the intermediate its backward needs (V' for BSConv, U' and V'
for BSConv-S, the depthwise output for DSC), so the backward recomputes nothing; no full
(N, M, K, K) kernel and no im2col matrix is ever formed.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from accel.depthwise import depthwise_backward, depthwise_forward
from accel.layout import to_channels_first, to_channels_last
from accel.pointwise import pointwise_backward, pointwise_forward
from reference import checks


class SeparableCache(NamedTuple):
    """The forward's input, the intermediates its backward reuses, and the output's shape."""

    x: np.ndarray  # B,M,H,W (BSConv) or B,H,W,M (DSC, channels-last)
    intermediates: tuple  # V' (B,H,W,N) for BSConv-U; U' (B,M',H*W) and V' for BSConv-S; U (B,M,Ho,Wo) for DSC
    weights: tuple
    has_bias: bool
    geometry: tuple  # stride, padding, dilation, (Ho, Wo)
    y_shape: tuple  # B,N,Ho,Wo


def _grad(dy, cache):
    return np.ascontiguousarray(checks.check_grad("dy", dy, cache.y_shape, cache.x.dtype))


def _matrices(a):
    """(B, C, H, W) -> the (B, C, H W) view of a C-contiguous array."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def dsc_forward(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1):
    """Sec. 4.1: depthwise with B' (M, 1, K, K), then pointwise with W (N, M, 1, 1), then + b.

    Returns ``(y, cache)``.
    """
    geometry = checks.check_dsc(x, w_dw, w_pw, b, stride, padding, dilation)
    x_cl = to_channels_last(x)  # B,H,W,M
    u = depthwise_forward(x_cl, w_dw, None, geometry)  # B,M,Ho,Wo
    y = pointwise_forward(_matrices(u), w_pw).reshape(x.shape[0], -1, *geometry[3])  # B,N,Ho,Wo
    if b is not None:
        y += b[None, :, None, None]
    return y, SeparableCache(x_cl, (u,), (w_dw, w_pw), b is not None, geometry, y.shape)


def dsc_backward(dy, cache):
    """Pointwise backward (dU, dW, db), then the fused depthwise backward (dx, dB').

    Returns ``(dx, dw_dw, dw_pw, db)``.
    """
    dy = _grad(dy, cache)
    (u,), (w_dw, w_pw) = cache.intermediates, cache.weights
    du, dw_pw = pointwise_backward(_matrices(dy), _matrices(u), w_pw)  # B,M,Ho*Wo
    dx_cl, dw_dw, _ = depthwise_backward(du.reshape(u.shape), cache.x, w_dw, cache.geometry)  # B,H,W,M
    db = dy.sum(axis=(0, 2, 3)) if cache.has_bias else None
    return to_channels_first(dx_cl), dw_dw, dw_pw, db


def bsconv_u_forward(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (6)-(7): V' = W x (pointwise, BLAS), then V = V' * B + b (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    nb, _, h, w = x.shape
    v_cl = pointwise_forward(_matrices(x), w_pw, channels_last_out=True).reshape(nb, h, w, -1)  # B,H,W,N
    y = depthwise_forward(v_cl, w_dw, b, geometry)  # B,N,Ho,Wo
    return y, SeparableCache(x, (v_cl,), (w_pw, w_dw), b is not None, geometry, y.shape)


def bsconv_u_backward(dy, cache):
    """Fused depthwise backward (dV', dB, db in one pass over dy), then pointwise backward (dx, dW).

    Returns ``(dx, dw_pw, dw_dw, db)``.
    """
    dy = _grad(dy, cache)
    (v_cl,), (w_pw, w_dw) = cache.intermediates, cache.weights
    dv_cl, dw_dw, db = depthwise_backward(dy, v_cl, w_dw, cache.geometry)  # B,H,W,N
    nb, h, w, n = dv_cl.shape
    dx, dw_pw = pointwise_backward(dv_cl.reshape(nb, h * w, n), _matrices(cache.x), w_pw, dy_channels_last=True)
    return dx.reshape(cache.x.shape), dw_pw, dw_dw, db if cache.has_bias else None


def bsconv_s_forward(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (12)-(14): U' = W^B x, V' = W^A U' (BLAS), V = V' * B + b (depthwise). Returns ``(y, cache)``."""
    geometry = checks.check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    nb, _, h, w = x.shape
    u_prime = pointwise_forward(_matrices(x), w_b)  # B,M',H*W
    v_cl = pointwise_forward(u_prime, w_a, channels_last_out=True).reshape(nb, h, w, -1)  # B,H,W,N
    y = depthwise_forward(v_cl, w_dw, b, geometry)  # B,N,Ho,Wo
    return y, SeparableCache(x, (u_prime, v_cl), (w_b, w_a, w_dw), b is not None, geometry, y.shape)


def bsconv_s_backward(dy, cache):
    """Reverse of Eq. (12)-(14): fused depthwise backward, then the two pointwise backwards.

    Returns ``(dx, dw_b, dw_a, dw_dw, db)``.
    """
    dy = _grad(dy, cache)
    (u_prime, v_cl), (w_b, w_a, w_dw) = cache.intermediates, cache.weights
    dv_cl, dw_dw, db = depthwise_backward(dy, v_cl, w_dw, cache.geometry)  # B,H,W,N
    nb, h, w, n = dv_cl.shape
    du_prime, dw_a = pointwise_backward(dv_cl.reshape(nb, h * w, n), u_prime, w_a, dy_channels_last=True)
    dx, dw_b = pointwise_backward(du_prime, _matrices(cache.x), w_b)  # B,M,H*W
    return dx.reshape(cache.x.shape), dw_b, dw_a, dw_dw, db if cache.has_bias else None
