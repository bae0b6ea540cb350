"""Depthwise convolution on planes: Eq. (7) for BSConv, the first step of DSC, a depthwise conv2d.

    y[b, c, p, q] = bias[c] + sum_{i, j} x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] w[c, i, j]

with x read as 0 outside the image. The kernels read and write each (b, c) plane where it lies,
in NCHW (B, C, H, W) or channel-major (C, B, H, W) arrays (``accel.layout.fold``'s layout, which
BSConv's pointwise product writes and DSC's reads), so no layout change is made around them. One
task owns one channel c and a group of consecutive samples b, and gathers the group's planes into
one contiguous run (a view where they already lie together, channel-major; a copy from NCHW).

How a group is computed (the math is the line above, nothing else). With stride 1 and Wo = W the
input that a tap (i, j) brings to a whole plane is one contiguous run of x, shifted by
s = (i D_h - P_h) W + j D_w - P_w: each tap is then a single long multiply-add loop,
out[t] += w[c, i, j] mask[i, j, t] x[t + s], which LLVM vectorizes. The entries of that run that
wrap around a row edge, or past the top or bottom into the neighbouring plane, are taps outside the
image: ``_masks`` zeroes them (mask[i, j, p Wo + q] is 1 where row p + i D_h - P_h and column
q + j D_w - P_w lie inside the image). Where Ho = H as well (the 'same' geometry of MobileNet
layers) the planes of a group follow each other with the same shift, so one loop per tap covers
the whole group: on small planes that keeps the loops long (a tap loop has a fixed cost, which
dominates on an 8 x 8 plane alone). A 3 x 3 kernel with P = D (MobileNet's layers) takes all nine
taps in one loop, forward and backward (``accel.taps3x3``). Other geometries go plane by plane, and
strided ones row by row over the valid output columns of each tap (``accel.plane_taps``); the tests
hold every path to the reference on every geometry, though the routing (``suits``) sends only
stride 1 here. No padded copy is made.

Backward (the chain rule through the line above), in one pass over dy per group:

    dx[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w] += w[c, i, j] dy[b, c, p, q]   (adjoint of the gather)
    dw[c, i, j] = sum_{b, p, q} dy[b, c, p, q] x[b, c, p S_h + i D_h - P_h, q S_w + j D_w - P_w]
    dbias[c]    = sum_{b, p, q} dy[b, c, p, q]

A task writes only its own planes of dx and its own partial sums ``dw_part[task]``,
``db_part[task]``; the caller sums those over the groups. No two tasks write the same element.
"""
from __future__ import annotations

import functools

import numpy as np
from numba import prange

from accel import taps3x3
from accel.depthwise import span
from accel.jit import jit
from accel.plane_taps import tap_backward, tap_forward, tap_rows_backward, tap_rows_forward
from accel.taps3x3 import forward as taps3x3_forward
from accel.taps3x3 import weight_grad as taps3x3_weight_grad

# Samples per task on 'same' geometry: (output pixels per task, fewest planes worth stacking), measured, 2 cores.
# Tap by tap, GROUP_PIXELS long runs with many tasks; below MIN_GROUP planes, plane by plane is faster (the
# stacked masks cost more than they save). The one-loop 3 x 3 forward (``accel.taps3x3``), which needs only
# four masks, gains from longer runs: FUSED_GROUP.
GROUP_PIXELS, MIN_GROUP = 2048, 4
FUSED_GROUP = (4096, 2)


def _gather(a, c, b0, b1, channel_major):
    """The planes (b0..b1-1, c) of ``a`` as one run: a view where they lie together (channel-major a,
    or a single plane), else a copy."""
    plane = a.shape[2] * a.shape[3]
    if channel_major:
        return a[c].reshape(a.shape[1] * plane)[b0 * plane : b1 * plane]
    if b1 - b0 == 1:
        return a[b0, c].reshape(plane)
    run = np.empty((b1 - b0) * plane, dtype=a.dtype)
    for k in range(b1 - b0):
        run[k * plane : (k + 1) * plane] = a[b0 + k, c].reshape(plane)
    return run


gather = jit(_gather, parallel=False)


def _scatter(run, a, c, b0, channel_major):
    """Write ``run`` back as the planes (b0.., c) of ``a``; nothing to do where ``gather`` gave a view."""
    plane = a.shape[2] * a.shape[3]
    if channel_major or run.shape[0] == plane:
        return
    for k in range(run.shape[0] // plane):
        a[b0 + k, c].reshape(plane)[:] = run[k * plane : (k + 1) * plane]


scatter = jit(_scatter, parallel=False)


def _plane_runs(n_planes, stacked, plane_in, plane_out):
    """(first, stop) index pairs into a group's input and output runs: one pair for the whole group where
    its planes stack ('same' geometry), else one per plane."""
    if stacked:
        return [(0, n_planes * plane_in, 0, n_planes * plane_out)]
    return [(k * plane_in, (k + 1) * plane_in, k * plane_out, (k + 1) * plane_out) for k in range(n_planes)]


plane_runs = jit(_plane_runs, parallel=False)


def _plan(x, x_cm, out, group, strides, pads, dils):
    """What both kernels derive from their arguments: (B, C, H, W, Ho, Wo) of x (NCHW or channel-major)
    and the output, whether the geometry is flat (stride 1, Wo = W), ``flat_tap``'s geo and the number of
    sample groups."""
    nb, nc, h, wd = (x.shape[1], x.shape[0], x.shape[2], x.shape[3]) if x_cm else x.shape
    ho, wo = out.shape[2], out.shape[3]
    flat = strides[0] == 1 and strides[1] == 1 and wo == wd
    return (nb, nc, h, wd, ho, wo), flat, (pads[0], pads[1], dils[0], dils[1], wd), (nb + group - 1) // group


plan = jit(_plan, parallel=False)


def _task_samples(task, n_groups, group, nb):
    """(channel, group index, first sample, stop sample) of a task."""
    k_group = task % n_groups
    b0 = k_group * group
    return task // n_groups, k_group, b0, min(b0 + group, nb)


task_samples = jit(_task_samples, parallel=False)


def _flat_tap(i, j, row_span, n_out, masks, stacked, geo):
    """(shift, range of t, mask, whether the mask is needed) of tap (i, j) on stride 1 with Wo = W: one
    run over the group if ``stacked``, else the plane's valid rows ``row_span``; geo = (P_h, P_w, D_h, D_w, W)."""
    ph, pw, dh, dw, wd = geo
    shift = (i * dh - ph) * wd + j * dw - pw
    t_range = (0, n_out) if stacked else (row_span[0] * wd, row_span[1] * wd)
    masked = j * dw != pw or (stacked and i * dh != ph)  # else every tap lies inside the image
    return shift, t_range, masks[i if stacked else 0, j], masked


flat_tap = jit(_flat_tap, parallel=False)


def _forward(x, w, bias, masks, fused_masks, y, sh, sw, ph, pw, dh, dw, x_cm, y_cm, group, stacked):
    """x (B, C, H, W), or (C, B, H, W) if ``x_cm``, w (C, KH, KW), bias (C,), masks (KH, KW, group Ho Wo) ->
    y (B, C, Ho, Wo), or (C, B, Ho, Wo) if ``y_cm``; one channel and ``group`` samples per task, in one
    run per tap if ``stacked``, else plane by plane. ``fused_masks`` = (masks, edge masks) of
    ``accel.taps3x3`` where it applies (empty where not): then all nine taps go in one loop."""
    (nb, nc, h, wd, ho, wo), flat, geo, n_groups = plan(x, x_cm, y, group, (sh, sw), (ph, pw), (dh, dw))
    kh, kw = w.shape[1], w.shape[2]
    for task in prange(nc * n_groups):
        c, _, b0, b1 = task_samples(task, n_groups, group, nb)
        src = gather(x, c, b0, b1, x_cm)  # (b1-b0)*H*W
        out = gather(y, c, b0, b1, y_cm) if y_cm or b1 - b0 == 1 else np.empty((b1 - b0) * ho * wo, dtype=x.dtype)
        out[:] = bias[c]
        for i0, i1, o0, o1 in plane_runs(b1 - b0, stacked, h * wd, ho * wo):
            src_k, out_k = src[i0:i1], out[o0:o1]
            if fused_masks[0].shape[1] > 0 and taps3x3_forward(out_k, src_k, w[c], *fused_masks, dh * wd, dw):
                continue
            for i in range(kh):
                plo, phi = span(i * dh - ph, sh, h, ho)
                for j in range(kw):
                    if flat:
                        shift, t_range, mask, masked = flat_tap(i, j, (plo, phi), o1 - o0, masks, stacked, geo)
                        tap_forward(out_k, src_k, w[c, i, j], mask, shift, t_range, masked)
                    else:
                        qlo, qhi = span(j * dw - pw, sw, wd, wo)
                        rows, cols = (plo, phi, i * dh - ph), (qlo, qhi, j * dw - pw)
                        tap_rows_forward(out_k, src_k, w[c, i, j], rows, cols, (sh, sw), wd, wo)
        scatter(out, y, c, b0, y_cm)


forward_kernel = jit(_forward)


def _backward(dy, x, w, masks, fused_masks, dx, dw_part, db_part, sh, sw, ph, pw, dh, dw, dy_cm, x_cm, group, stacked):
    """dy (B, C, Ho, Wo), or (C, B, Ho, Wo) if ``dy_cm``, x (B, C, H, W), or (C, B, H, W) if ``x_cm``,
    w (C, KH, KW) -> dx like x, dw_part (groups, C, KH, KW), db_part (groups, C). With ``fused_masks``
    (``accel.taps3x3``, non-empty where it applies), dx is its forward of dy with w flipped in both axes
    and dw its nine sums in one loop."""
    (nb, nc, h, wd, ho, wo), flat, geo, n_groups = plan(x, x_cm, dy, group, (sh, sw), (ph, pw), (dh, dw))
    kh, kw = w.shape[1], w.shape[2]
    for task in prange(nc * n_groups):
        c, k_group, b0, b1 = task_samples(task, n_groups, group, nb)
        g, src = gather(dy, c, b0, b1, dy_cm), gather(x, c, b0, b1, x_cm)  # (b1-b0)*Ho*Wo, (b1-b0)*H*W
        d_src = gather(dx, c, b0, b1, x_cm) if x_cm or b1 - b0 == 1 else np.empty(src.shape[0], dtype=x.dtype)
        d_src[:] = 0.0
        db_part[k_group, c] = g.sum()
        dw_part[k_group, c] = 0.0
        for i0, i1, o0, o1 in plane_runs(b1 - b0, stacked, h * wd, ho * wo):
            g_k, src_k, d_src_k = g[o0:o1], src[i0:i1], d_src[i0:i1]
            fused = fused_masks[0].shape[1] > 0
            if fused and taps3x3_weight_grad(g_k, src_k, *fused_masks, dh * wd, dw, dw_part[k_group, c]):
                taps3x3_forward(d_src_k, g_k, w[c, ::-1, ::-1], *fused_masks, dh * wd, dw)
                continue
            for i in range(kh):
                plo, phi = span(i * dh - ph, sh, h, ho)
                for j in range(kw):
                    if flat:
                        shift, t_range, mask, masked = flat_tap(i, j, (plo, phi), o1 - o0, masks, stacked, geo)
                        dw_part[k_group, c, i, j] += tap_backward(
                            d_src_k, g_k, src_k, w[c, i, j], mask, shift, t_range, masked
                        )
                    else:
                        qlo, qhi = span(j * dw - pw, sw, wd, wo)
                        rows, cols = (plo, phi, i * dh - ph), (qlo, qhi, j * dw - pw)
                        dw_part[k_group, c, i, j] += tap_rows_backward(
                            d_src_k, g_k, src_k, w[c, i, j], rows, cols, (sh, sw), wd, wo
                        )
        scatter(d_src, dx, c, b0, x_cm)


backward_kernel = jit(_backward)


MIN_PLANE = 128  # output pixels per plane below which the channels-last kernels are faster (measured, 2 cores)


def suits(x_hw, geometry):
    """Whether these kernels beat the channels-last ones of ``accel.depthwise`` (measured, 2 cores,
    float32): on stride 1 with Wo = W, where every tap is one contiguous run, on planes of at least
    ``MIN_PLANE`` output pixels."""
    (sh, sw), _, _, (ho, wo) = geometry
    return sh == sw == 1 and wo == x_hw[1] and ho * wo >= MIN_PLANE


def grouping(nb, geometry, x_hw, fused=False):
    """(samples per task, whether their planes stack): ``GROUP_PIXELS`` output pixels' worth of samples
    where planes stack, on the 'same' geometry (stride 1, Ho, Wo = H, W) with planes small enough for
    ``MIN_GROUP`` of them (``FUSED_GROUP`` for the one-loop 3 x 3 forward); one sample otherwise."""
    (sh, sw), _, _, (ho, wo) = geometry
    pixels, min_group = FUSED_GROUP if fused else (GROUP_PIXELS, MIN_GROUP)
    group = min(nb, pixels // (ho * wo))
    stacked = sh == sw == 1 and (ho, wo) == tuple(x_hw) and pixels // (ho * wo) >= min_group and group > 1
    return (group, True) if stacked else (1, False)


@functools.lru_cache(maxsize=64)
def _masks(kernel_hw, x_hw, geometry, group, stacked, dtype):
    """(KH, KW, group Ho Wo) if ``stacked``: mask[i, j, p Wo + q] = 1 where row p + i D_h - P_h lies in [0, H)
    and column q + j D_w - P_w in [0, W), repeated for the ``group`` planes of a task. Else (1, KW, Ho Wo),
    the columns' part only: a lone plane's tap loops skip the rows outside the image. (Used on stride 1.)"""
    _, (ph, pw), (dh, dw), (ho, wo) = geometry
    cols = np.arange(wo)[None, :] + (np.arange(kernel_hw[1]) * dw - pw)[:, None]  # KW,Wo
    inside = ((cols >= 0) & (cols < x_hw[1]))[None, :, None, :]  # 1,KW,1,Wo
    if stacked:
        rows = np.arange(ho)[None, :] + (np.arange(kernel_hw[0]) * dh - ph)[:, None]  # KH,Ho
        inside = ((rows >= 0) & (rows < x_hw[0]))[:, None, :, None] & inside  # KH,KW,Ho,Wo
    inside = np.broadcast_to(inside, (inside.shape[0], kernel_hw[1], ho, wo)).reshape(inside.shape[0], kernel_hw[1], -1)
    return np.ascontiguousarray(np.tile(inside.astype(dtype), (1, 1, group)))


def _operands(x, w, geometry, x_channel_major, fused=False):
    """(C, B, taps (C, KH, KW), masks, group, stacked) for the kernels."""
    nc, nb = x.shape[:2] if x_channel_major else x.shape[1::-1]
    group, stacked = grouping(nb, geometry, x.shape[2:], fused)
    masks = _masks(tuple(w.shape[2:]), tuple(x.shape[2:]), tuple(geometry), group, stacked, x.dtype)
    return nc, nb, np.ascontiguousarray(w[:, 0]), masks, group, stacked


def _fused_masks(fused, geometry, x_hw, group, dtype):
    """``accel.taps3x3``'s (masks, edge masks) where it applies, else empty arrays (the kernels then go tap by tap)."""
    if fused:
        return taps3x3.all_masks(tuple(geometry), tuple(x_hw), group, dtype)
    return np.empty((4, 0), dtype=dtype), np.empty((3, 3, 2, 0), dtype=dtype)


def depthwise_forward(x, w, bias, geometry, x_channel_major=False, y_channel_major=False):
    """Eq. (7): x (B, C, H, W) C-contiguous, w (C, 1, KH, KW), bias (C,) or None -> y (B, C, Ho, Wo).

    ``geometry`` is ``(stride, padding, dilation, (Ho, Wo))`` from ``reference.checks.spatial_geometry``.
    With ``x_channel_major`` x is (C, B, H, W), with ``y_channel_major`` y is (C, B, Ho, Wo).
    """
    (sh, sw), (ph, pw), (dh, dw), (ho, wo) = geometry
    fused = taps3x3.fits(w.shape[2:], geometry)
    nc, nb, taps, masks, group, stacked = _operands(x, w, geometry, x_channel_major, fused)
    y = np.empty((nc, nb, ho, wo) if y_channel_major else (nb, nc, ho, wo), dtype=x.dtype)  # C,B,Ho,Wo or B,C,Ho,Wo
    bias = np.zeros(nc, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    fused_masks = _fused_masks(fused, geometry, x.shape[2:], group, x.dtype)
    forward_kernel(x, taps, bias, masks, fused_masks, y, sh, sw, ph, pw, dh, dw, x_channel_major, y_channel_major,
                   group, stacked)
    return y


def depthwise_backward(dy, x, w, geometry, dy_channel_major=False, x_channel_major=False):
    """Gradients of ``depthwise_forward`` (derivation in the module docstring): ``(dx, dw, dbias)``.

    dy (B, C, Ho, Wo) and x (B, C, H, W) C-contiguous, or (C, B, Ho, Wo) and (C, B, H, W) with
    ``dy_channel_major`` and ``x_channel_major``; w (C, 1, KH, KW); dx is like x, dw like w, dbias (C,).
    """
    (sh, sw), (ph, pw), (dh, dw), _ = geometry
    fused = taps3x3.fits(w.shape[2:], geometry)
    nc, nb, taps, masks, group, stacked = _operands(x, w, geometry, x_channel_major, fused)
    n_groups = -(-nb // group)
    dx = np.empty_like(x)  # like x
    dw_part = np.empty((n_groups, nc, *w.shape[2:]), dtype=x.dtype)  # groups,C,KH,KW
    db_part = np.empty((n_groups, nc), dtype=x.dtype)  # groups,C
    backward_kernel(dy, x, taps, masks, _fused_masks(fused, geometry, x.shape[2:], group, x.dtype), dx, dw_part,
                    db_part, sh, sw, ph, pw, dh, dw, dy_channel_major, x_channel_major, group, stacked)
    return dx, dw_part.sum(axis=0)[:, None], db_part.sum(axis=0)
