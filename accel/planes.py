"""Depthwise convolution on NCHW planes: Eq. (7) for BSConv, the first step of DSC, a depthwise conv2d.

    y[b, c, p, q] = bias[c] + sum_{i, j} x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] w[c, i, j]

with x read as 0 outside the image. One task owns one (b, c) plane of x and y, so the kernels read
and write NCHW directly (no layout change around them) and split the work over B C tasks, which
keeps every core busy whatever the batch size.

How a plane is computed (the math is the line above, nothing else). With stride 1 and Wo = W (the
'same' geometry of MobileNet layers) the input a tap (i, j) brings to the whole plane is one
contiguous run of x, shifted by (i D_h - P_h) W + j D_w - P_w: each tap is then a single long
multiply-add loop over the plane, which LLVM vectorizes. The entries of that run that wrap around a
row edge are the taps that fall outside the image; ``_masks`` zeroes them (mask[j, p Wo + q] is
1 where column q + j D_w - P_w lies inside the image). Other geometries go row by row over the
valid output columns of each tap (``accel.depthwise.span``); the tests hold that path to the reference
on every geometry, though the routing (``suits``) only sends the flat geometry here today. No padded
copy is made. Each tap's loop has a fixed cost, so on small planes (or strided ones) the
channels-last kernels of ``accel.depthwise`` are faster; ``suits`` says which to use.

Backward (the chain rule through the line above), in one pass over dy per plane:

    dx[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] += w[c, i, j] dy[b, c, p, q]   (adjoint of the gather)
    dw[c, i, j] = sum_{b, p, q} dy[b, c, p, q] x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w]
    dbias[c]    = sum_{b, p, q} dy[b, c, p, q]

A task writes only its own plane of dx and its own partial sums ``dw_part[b, c]``, ``db_part[b, c]``;
the caller sums those over the batch. No two tasks write the same element.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from accel.depthwise import span
from accel.jit import jit


def _tap_forward(out, src, tap, mask, rows, cols, geo):
    """out (Ho Wo,) += tap x the inputs of one tap; see the module docstring for the two cases."""
    (plo, phi, r0), (qlo, qhi, c0), (h, wd, ho, wo, sh, sw, flat) = rows, cols, geo
    if flat:
        shift = r0 * wd + c0
        lo = max(plo * wo, -shift)
        hi = max(lo, min(phi * wo, h * wd - shift))  # lo <= hi: no negative (wrapping) slice bound
        o, m, s = out[lo:hi], mask[lo:hi], src[lo + shift : hi + shift]  # loops from 0 vectorize
        for t in range(o.shape[0]):
            o[t] += tap * m[t] * s[t]
        return
    for p in range(plo, phi):
        base = (p * sh + r0) * wd + c0 + qlo * sw
        o, s = out[p * wo + qlo : p * wo + qhi], src[base : base + (qhi - qlo - 1) * sw + 1 : sw]
        for q in range(o.shape[0]):
            o[q] += tap * s[q]


tap_forward = jit(_tap_forward, parallel=False)


def _tap_backward(d_src, g, src, tap, mask, rows, cols, geo):
    """d_src += tap x g scattered back through one tap; returns sum g x (that tap's inputs), for dw."""
    (plo, phi, r0), (qlo, qhi, c0), (h, wd, ho, wo, sh, sw, flat) = rows, cols, geo
    acc = src.dtype.type(0.0)
    if flat:
        shift = r0 * wd + c0
        lo = max(plo * wo, -shift)
        hi = max(lo, min(phi * wo, h * wd - shift))  # lo <= hi: no negative (wrapping) slice bound
        gv, m = g[lo:hi], mask[lo:hi]
        s, d = src[lo + shift : hi + shift], d_src[lo + shift : hi + shift]
        for t in range(gv.shape[0]):
            gm = gv[t] * m[t]
            d[t] += tap * gm
            acc += gm * s[t]
        return acc
    for p in range(plo, phi):
        base = (p * sh + r0) * wd + c0 + qlo * sw
        last = base + (qhi - qlo - 1) * sw + 1
        gv, s, d = g[p * wo + qlo : p * wo + qhi], src[base:last:sw], d_src[base:last:sw]
        for q in range(gv.shape[0]):
            d[q] += tap * gv[q]
            acc += gv[q] * s[q]
    return acc


tap_backward = jit(_tap_backward, parallel=False)


def _forward(x, w, bias, masks, y, sh, sw, ph, pw, dh, dw):
    """x (B, C, H, W), w (C, KH, KW), bias (C,), masks (KW, Ho Wo) -> y (B, C, Ho, Wo), one plane per task."""
    nb, nc, h, wd = x.shape
    kh, kw = w.shape[1], w.shape[2]
    ho, wo = y.shape[2], y.shape[3]
    geo = (h, wd, ho, wo, sh, sw, sh == 1 and sw == 1 and wo == wd)
    for plane in prange(nb * nc):
        b, c = plane // nc, plane % nc
        src, out = x[b, c].reshape(h * wd), y[b, c].reshape(ho * wo)
        out[:] = bias[c]
        for i in range(kh):
            plo, phi = span(i * dh - ph, sh, h, ho)
            for j in range(kw):
                qlo, qhi = span(j * dw - pw, sw, wd, wo)
                tap_forward(out, src, w[c, i, j], masks[j], (plo, phi, i * dh - ph), (qlo, qhi, j * dw - pw), geo)


forward_kernel = jit(_forward)


def _backward(dy, x, w, masks, dx, dw_part, db_part, sh, sw, ph, pw, dh, dw):
    """dy (B, C, Ho, Wo), x (B, C, H, W), w (C, KH, KW) -> dx like x, dw_part (B, C, KH, KW), db_part (B, C)."""
    nb, nc, h, wd = x.shape
    kh, kw = w.shape[1], w.shape[2]
    ho, wo = dy.shape[2], dy.shape[3]
    geo = (h, wd, ho, wo, sh, sw, sh == 1 and sw == 1 and wo == wd)
    for plane in prange(nb * nc):
        b, c = plane // nc, plane % nc
        g, src, d_src = dy[b, c].reshape(ho * wo), x[b, c].reshape(h * wd), dx[b, c].reshape(h * wd)
        d_src[:] = 0.0
        db_part[b, c] = g.sum()
        for i in range(kh):
            plo, phi = span(i * dh - ph, sh, h, ho)
            for j in range(kw):
                qlo, qhi = span(j * dw - pw, sw, wd, wo)
                dw_part[b, c, i, j] = tap_backward(
                    d_src, g, src, w[c, i, j], masks[j], (plo, phi, i * dh - ph), (qlo, qhi, j * dw - pw), geo
                )


backward_kernel = jit(_backward)


MIN_PLANE = 32 * 32  # below this a plane's per-tap loop overhead loses to the channels-last kernels


def suits(x_hw, geometry):
    """Whether these kernels beat the channels-last ones of ``accel.depthwise`` (measured, 2 cores,
    float32): on the flat geometry (stride 1, Wo = W) with planes of at least ``MIN_PLANE`` pixels."""
    (sh, sw), _, _, (_, wo) = geometry
    return sh == sw == 1 and wo == x_hw[1] and x_hw[0] * x_hw[1] >= MIN_PLANE


def _masks(kw, x_w, geometry, dtype):
    """(KW, Ho Wo): mask[j, p Wo + q] = 1 where column q + j D_w - P_w lies in [0, W)."""
    _, (_, pw), (_, dw), (ho, wo) = geometry
    q = np.arange(wo)[None, :] + (np.arange(kw) * dw - pw)[:, None]  # KW,Wo
    return np.ascontiguousarray(np.tile(((q >= 0) & (q < x_w)).astype(dtype), (1, ho)))  # KW,Ho*Wo


def depthwise_forward(x, w, bias, geometry):
    """Eq. (7): x (B, C, H, W) C-contiguous, w (C, 1, KH, KW), bias (C,) or None -> y (B, C, Ho, Wo).

    ``geometry`` is ``(stride, padding, dilation, (Ho, Wo))`` from ``reference.checks.spatial_geometry``.
    """
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = geometry
    nb, nc = x.shape[:2]
    y = np.empty((nb, nc, ho, wo), dtype=x.dtype)  # B,C,Ho,Wo
    bias = np.zeros(nc, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    taps = np.ascontiguousarray(w[:, 0])  # C,KH,KW
    forward_kernel(x, taps, bias, _masks(w.shape[3], x.shape[3], geometry, x.dtype), y, sh, sw, ph, pw, dh, dw)
    return y


def depthwise_backward(dy, x, w, geometry):
    """Gradients of ``depthwise_forward`` (derivation in the module docstring): ``(dx, dw, dbias)``.

    dy (B, C, Ho, Wo) and x (B, C, H, W) C-contiguous, w (C, 1, KH, KW); dx is like x, dw like w,
    dbias (C,).
    """
    (sh, sw), (ph, pw), (dh, dw), _ = geometry
    nb, nc = x.shape[:2]
    dx = np.empty_like(x)  # B,C,H,W
    dw_part = np.empty((nb, nc, *w.shape[2:]), dtype=x.dtype)  # B,C,KH,KW
    db_part = np.empty((nb, nc), dtype=x.dtype)  # B,C
    taps = np.ascontiguousarray(w[:, 0])  # C,KH,KW
    masks = _masks(w.shape[3], x.shape[3], geometry, x.dtype)
    backward_kernel(dy, x, taps, masks, dx, dw_part, db_part, sh, sw, ph, pw, dh, dw)
    return dx, dw_part.sum(axis=0)[:, None], db_part.sum(axis=0)
