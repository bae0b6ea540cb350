"""One tap of a depthwise kernel over a run of plane values: the inner loops of ``accel.planes``.

On stride 1 with Wo = W a tap (i, j) reads, for output t of a run, input t + shift; ``mask[t]`` zeroes
the outputs whose input lies outside the image (``accel.planes`` explains the layout). The loops
start at 0 on slices that the bounds have been applied to, so LLVM vectorizes them. Strided
geometries go row by row over the tap's valid outputs (``tap_rows_forward``, ``tap_rows_backward``).
"""
from __future__ import annotations

from accel.jit import jit


def _tap_forward(out, src, tap, mask, shift, t_range, masked):
    """out[t] += tap mask[t] src[t + shift] over the t in ``t_range`` for which src[t + shift] exists
    (without reading the mask where the caller knows it is all ones: ``masked`` False)."""
    lo = max(t_range[0], -shift)
    hi = max(lo, min(t_range[1], src.shape[0] - shift))  # lo <= hi: no negative (wrapping) slice bound
    o, m, s = out[lo:hi], mask[lo:hi], src[lo + shift : hi + shift]  # loops from 0 vectorize
    if masked:
        for t in range(o.shape[0]):
            o[t] += tap * m[t] * s[t]
    else:
        for t in range(o.shape[0]):
            o[t] += tap * s[t]


tap_forward = jit(_tap_forward, parallel=False)


def _tap_backward(d_src, g, src, tap, mask, shift, t_range, masked):
    """d_src[t + shift] += tap mask[t] g[t] over the same t as ``_tap_forward``;
    returns sum_t mask[t] g[t] src[t + shift]."""
    lo = max(t_range[0], -shift)
    hi = max(lo, min(t_range[1], src.shape[0] - shift))
    gv, m, s, d = g[lo:hi], mask[lo:hi], src[lo + shift : hi + shift], d_src[lo + shift : hi + shift]
    acc = src.dtype.type(0.0)
    if masked:
        for t in range(gv.shape[0]):
            gm = gv[t] * m[t]
            d[t] += tap * gm
            acc += gm * s[t]
    else:
        for t in range(gv.shape[0]):
            d[t] += tap * gv[t]
            acc += gv[t] * s[t]
    return acc


tap_backward = jit(_tap_backward, parallel=False)


def _tap_rows_forward(out, src, tap, rows, cols, strides, wd, wo):
    """The strided case of ``_tap_forward`` on one plane: row by row over the tap's valid outputs."""
    (plo, phi, r0), (qlo, qhi, c0), (sh, sw) = rows, cols, strides
    for p in range(plo, phi):
        base = (p * sh + r0) * wd + c0 + qlo * sw
        o, s = out[p * wo + qlo : p * wo + qhi], src[base : base + (qhi - qlo - 1) * sw + 1 : sw]
        for q in range(o.shape[0]):
            o[q] += tap * s[q]


tap_rows_forward = jit(_tap_rows_forward, parallel=False)


def _tap_rows_backward(d_src, g, src, tap, rows, cols, strides, wd, wo):
    """The strided case of ``_tap_backward`` on one plane."""
    (plo, phi, r0), (qlo, qhi, c0), (sh, sw) = rows, cols, strides
    acc = src.dtype.type(0.0)
    for p in range(plo, phi):
        base = (p * sh + r0) * wd + c0 + qlo * sw
        last = base + (qhi - qlo - 1) * sw + 1
        gv, s, d = g[p * wo + qlo : p * wo + qhi], src[base:last:sw], d_src[base:last:sw]
        for q in range(gv.shape[0]):
            d[q] += tap * gv[q]
            acc += gv[q] * s[q]
    return acc


tap_rows_backward = jit(_tap_rows_backward, parallel=False)
