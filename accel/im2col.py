"""im2col and its adjoint col2im: a regular convolution as one matrix product per group (Eq. 1, 3).

    cols[b, (m, i, j), p Wo + q] = x_pad[b, m, p S_h + i D_h, q S_w + j D_w]      (B, M KH KW, Ho Wo)

so that, per group g, ``y[b, g] = W_g @ cols[b, g]`` with W_g the (N_g, M_g KH KW) weight matrix.
``col2im`` is the adjoint (transpose) of that gather: it scatter-adds columns back onto (B, M, H, W),
which is how the gradient of x is formed from ``W_g^T @ dy``. Both kernels run in parallel over
(batch, input channel) planes, each of which owns its rows of cols and its plane of x: no races.
Every kernel they call is defined in this file (Numba's on-disk cache checks only the compiled
function's own file, so a callee in another file could go stale).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from accel.jit import jit


def _copy(dst, src):
    """dst[:] = src for 1-D views, as a loop from 0 that LLVM vectorizes when both are contiguous."""
    for t in range(dst.shape[0]):
        dst[t] = src[t]


copy = jit(_copy, parallel=False)


def _add(dst, src):
    """dst[:] += src for 1-D views."""
    for t in range(dst.shape[0]):
        dst[t] += src[t]


add = jit(_add, parallel=False)


def _move_row(cols_row, x_row, lo, hi, first, sw, into_cols):
    """cols_row[lo:hi] = x_row[first::sw] (``into_cols``) or x_row[first::sw] += cols_row[lo:hi]."""
    part = cols_row[lo:hi]
    if sw == 1:
        src = x_row[first : first + hi - lo]
        copy(part, src) if into_cols else add(src, part)
    else:
        src = x_row[first : first + (hi - lo - 1) * sw + 1 : sw]
        copy(part, src) if into_cols else add(src, part)


move_row = jit(_move_row, parallel=False)


def _im2col(x, cols, kh, kw, geometry, into_cols):
    """x (B, M, H, W) <-> cols (B, M KH KW, Ho Wo): gather (``into_cols``) or scatter-add (x must start at 0)."""
    (sh, sw), (ph, pw), (dil_h, dil_w), (ho, wo) = geometry
    nb, nm, h, wd = x.shape
    for plane in prange(nb * nm):
        b, m = plane // nm, plane % nm
        for i in range(kh):
            for j in range(kw):
                row = cols[b, (m * kh + i) * kw + j]  # Ho*Wo
                off = j * dil_w - pw  # columns q in [lo, hi) read x inside: 0 <= q S_w + off < W
                lo = max(0, -(off // sw))
                hi = max(lo, min(wo, (wd - 1 - off) // sw + 1))
                for p in range(ho):
                    r = p * sh + i * dil_h - ph
                    out = row[p * wo : (p + 1) * wo]  # Wo
                    if into_cols:
                        out[:lo] = 0.0
                        out[hi:] = 0.0
                    if 0 <= r < h and lo < hi:
                        move_row(out, x[b, m, r], lo, hi, lo * sw + off, sw, into_cols)
                    elif into_cols:
                        out[:] = 0.0


im2col_kernel = jit(_im2col)


def im2col(x, kernel_hw, geometry):
    """x (B, M, H, W) C-contiguous -> cols (B, M KH KW, Ho Wo); ``geometry`` a ``reference.checks.Geometry``."""
    kh, kw = kernel_hw
    nb, nm = x.shape[:2]
    ho, wo = geometry.out
    cols = np.empty((nb, nm * kh * kw, ho * wo), dtype=x.dtype)  # B,M*KH*KW,Ho*Wo
    im2col_kernel(x, cols, kh, kw, geometry, True)
    return cols


def col2im(cols, x_shape, kernel_hw, geometry):
    """Adjoint of ``im2col``: cols (B, M KH KW, Ho Wo) C-contiguous -> (B, M, H, W), summing overlapping taps."""
    kh, kw = kernel_hw
    x = np.zeros(x_shape, dtype=cols.dtype)  # B,M,H,W
    im2col_kernel(x, cols, kh, kw, geometry, False)
    return x
