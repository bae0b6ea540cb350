"""Depthwise convolution on the channels-last layout (B, H, W, C): Eq. (7) for BSConv, the first step of DSC.

    y[b, c, p, q] = bias[c] + sum_{i, j} x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] w[c, i, j]

with x read as 0 outside the image.

``accel.route`` sends the strided layers and the small planes here (the rest to ``accel.planar``).
How the kernels make this fast (the math is the line above, nothing else). They read x
channels-last (``accel.layout``; for BSConv the pointwise product before this step
writes that layout at no cost), and hold an output row as one flat run of Wo x C values. With
stride 1 the input that one tap (i, j) brings to that row is then also one contiguous run, and the
tap's weights, repeated Wo times (``_tiled_taps``), a third: each tap is a single long
multiply-add loop, which LLVM vectorizes. Other strides go pixel by pixel, C values at a time.
Taps outside the image are skipped (``_span`` gives a tap's valid output columns), so no padded copy
is made. A forward task computes one output row and stores it transposed into the NCHW output, or
as it is into a channels-last output (``channels_last_out``, which DSC's pointwise step reads).

Backward (the chain rule through the line above):

    dx[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] += w[c, i, j] dy[b, c, p, q]   (adjoint of the gather)
    dw[c, i, j] = sum_{b, p, q} dy[b, c, p, q] x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w]
    dbias[c]    = sum_{b, p, q} dy[b, c, p, q]

computed in one fused pass that reads dy (NCHW, or channels-last with ``dy_channels_last``) once,
with the same flat runs. A backward task owns one sample: it takes each row of dy channels-last,
scatters into its own dx[b] (channels-last; or into a scratch buffer that it then transposes into an
NCHW dx[b]), and accumulates dw per output column q in its own buffer, summed over q at the end
into its partial sums ``dw_part[b]``, ``db_part[b]``; the caller sums those over the batch. No two
tasks write the same element.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from accel.jit import jit


def _span(offset, stride, size, n_out):
    """The output indices o in [lo, hi) whose input index o * stride + offset lies in [0, size)."""
    lo = max(0, -(offset // stride))
    hi = min(n_out, (size - 1 - offset) // stride + 1)
    return lo, max(lo, hi)


span = jit(_span, parallel=False)


def _forward(x, w, bias, y, geometry, out_cl):
    """x (B, H, W, C) channels-last, w (KH, KW, Wo C) tiled, bias (Wo C,) tiled -> y (B, C, Ho, Wo),
    or y (B, Ho, Wo, C) if ``out_cl``."""
    (sh, sw), (ph, pw), (dil_h, dil_w), _ = geometry
    nb, h, wd, nc = x.shape
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = (y.shape[1], y.shape[2]) if out_cl else (y.shape[2], y.shape[3])
    for task in prange(nb * ho):
        b, p = task // ho, task % ho
        row = y[b, p].reshape(wo * nc) if out_cl else np.empty(wo * nc, dtype=x.dtype)  # Wo*C: row p, pixel-major
        row[:] = bias
        for i in range(kh):
            r = p * sh + i * dil_h - ph
            if r < 0 or r >= h:
                continue
            x_row = x[b, r].reshape(wd * nc)  # W*C
            for j in range(kw):
                lo, hi = span(j * dil_w - pw, sw, wd, wo)
                run = hi - lo if sw == 1 else 1  # stride 1: the whole tap is one contiguous run
                for q0 in range(lo, hi, max(run, 1)):
                    start = (q0 * sw + j * dil_w - pw) * nc
                    out, tap = row[q0 * nc : (q0 + run) * nc], w[i, j, q0 * nc : (q0 + run) * nc]
                    src = x_row[start : start + out.shape[0]]
                    for t in range(out.shape[0]):
                        out[t] += tap[t] * src[t]
        if out_cl:
            continue
        for c in range(nc):
            dst = y[b, c, p]  # Wo
            for q in range(wo):
                dst[q] = row[q * nc + c]


forward_kernel = jit(_forward)


def _backward(dy, x, w, dx, dw_part, db_part, geometry, dy_cl, dx_nchw):
    """dy (B, C, Ho, Wo) or, if ``dy_cl``, (B, Ho, Wo, C); x (B, H, W, C), w (KH, KW, Wo C) tiled ->
    dx (B, H, W, C), or (B, C, H, W) if ``dx_nchw``, dw_part (B, KH, KW, C), db_part (B, C), one sample per task."""
    (sh, sw), (ph, pw), (dil_h, dil_w), _ = geometry
    nb, h, wd, nc = x.shape
    kh, kw = w.shape[0], w.shape[1]
    ho, wo = (dy.shape[1], dy.shape[2]) if dy_cl else (dy.shape[2], dy.shape[3])
    for b in prange(nb):
        dx_b = np.empty((h, wd * nc), dtype=x.dtype) if dx_nchw else dx[b].reshape(h, wd * nc)  # H,W*C
        dx_b[:] = 0.0
        acc = np.zeros((kh, kw, wo * nc), dtype=x.dtype)  # dw per tap and output column: KH,KW,Wo*C
        total = db_part[b]  # C
        total[:] = 0.0
        g = np.empty(wo * nc, dtype=x.dtype)  # row p of dy, pixel-major: Wo*C
        for p in range(ho):
            if dy_cl:
                g[:] = dy[b, p].reshape(wo * nc)
            else:
                for c in range(nc):
                    g_row = dy[b, c, p]  # Wo
                    for q in range(wo):
                        g[q * nc + c] = g_row[q]
            for q in range(wo):
                for c in range(nc):
                    total[c] += g[q * nc + c]
            for i in range(kh):
                r = p * sh + i * dil_h - ph
                if r < 0 or r >= h:
                    continue
                x_row = x[b, r].reshape(wd * nc)  # W*C
                dx_row = dx_b[r]  # W*C
                for j in range(kw):
                    lo, hi = span(j * dil_w - pw, sw, wd, wo)
                    run = hi - lo if sw == 1 else 1  # stride 1: the whole tap is one contiguous run
                    for q0 in range(lo, hi, max(run, 1)):
                        start = (q0 * sw + j * dil_w - pw) * nc
                        cols = slice(q0 * nc, (q0 + run) * nc)
                        gv, tap, a = g[cols], w[i, j, cols], acc[i, j, cols]
                        src, dst = x_row[start : start + gv.shape[0]], dx_row[start : start + gv.shape[0]]
                        for t in range(gv.shape[0]):
                            dst[t] += tap[t] * gv[t]
                            a[t] += gv[t] * src[t]
        for i in range(kh):
            for j in range(kw):
                for c in range(nc):
                    s = x.dtype.type(0.0)
                    for q in range(wo):
                        s += acc[i, j, q * nc + c]
                    dw_part[b, i, j, c] = s
        if dx_nchw:
            for c in range(nc):
                plane = dx[b, c]  # H,W
                for r in range(h):
                    for q in range(wd):
                        plane[r, q] = dx_b[r, q * nc + c]


backward_kernel = jit(_backward)


def _tiled_taps(w, wo):
    """(C, 1, KH, KW) -> (KH, KW, Wo C): each tap's C weights repeated for the Wo pixels of an output row."""
    return np.ascontiguousarray(np.tile(w[:, 0].transpose(1, 2, 0), (1, 1, wo)))


def depthwise_forward(x, w, bias, geometry, channels_last_out=False):
    """Eq. (7): x (B, H, W, C) channels-last C-contiguous, w (C, 1, KH, KW), bias (C,) or None -> y (B, C, Ho, Wo),
    or (B, Ho, Wo, C) if ``channels_last_out``.

    ``geometry`` is the ``reference.checks.Geometry`` of the step.
    """
    ho, wo = geometry.out
    nb, nc = x.shape[0], x.shape[3]
    y = np.empty((nb, ho, wo, nc) if channels_last_out else (nb, nc, ho, wo), dtype=x.dtype)  # B,Ho,Wo,C or B,C,Ho,Wo
    bias = np.zeros(nc, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    forward_kernel(x, _tiled_taps(w, wo), np.tile(bias, wo), y, geometry, channels_last_out)
    return y


def depthwise_backward(dy, x, w, geometry, dy_channels_last=False, nchw_dx=False):
    """Gradients of ``depthwise_forward`` (derivation in the module docstring): ``(dx, dw, dbias)``.

    dy (B, C, Ho, Wo), or (B, Ho, Wo, C) if ``dy_channels_last``, and x (B, H, W, C) C-contiguous,
    w (C, 1, KH, KW); dx is channels-last like x, or (B, C, H, W) if ``nchw_dx`` (each task
    transposes its sample's dx from a scratch buffer while it is in cache); dw has w's shape and dbias is (C,).
    """
    wo = geometry.out[1]
    nb, h, wd, nc = x.shape
    dx = np.empty((nb, nc, h, wd) if nchw_dx else x.shape, dtype=x.dtype)  # B,C,H,W or B,H,W,C
    dw_part = np.empty((nb, *w.shape[2:], nc), dtype=x.dtype)  # B,KH,KW,C
    db_part = np.empty((nb, nc), dtype=x.dtype)  # B,C
    backward_kernel(dy, x, _tiled_taps(w, wo), dx, dw_part, db_part, geometry, dy_channels_last, nchw_dx)
    d_taps = dw_part.sum(axis=0)  # KH,KW,C
    return dx, np.ascontiguousarray(d_taps.transpose(2, 0, 1))[:, None], db_part.sum(axis=0)
