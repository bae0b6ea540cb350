"""Depthwise convolution on planar layouts, where each (b, c) plane of H x W values is contiguous: NCHW
(B, C, H, W) and channel-major (C, B, H, W). Eq. (7) for BSConv, the first step of DSC, a depthwise conv2d.

    y[b, c, p, q] = bias[c] + sum_{i, j} x[b, c, p + i D_h - P_h, q + j D_w - P_w] w[c, i, j]

with x read as 0 outside the image; ``accel.route`` sends work here only on stride 1 with Wo = W (every
other geometry goes to ``accel.nhwc``). The kernels read and write each plane where it lies: BSConv's
V' = W X comes channel-major from its product (``accel.layout.fold``'s layout) and its y goes out NCHW;
DSC's depthwise step reads x NCHW and writes U channel-major for the product after it. One task owns one
channel c and a group of consecutive samples b (``Route.group``), and gathers the group's planes into one
contiguous run (a view where they already lie together, channel-major; a copy from NCHW).

How a run is computed. The input that a tap (i, j) brings to a whole plane is one contiguous run of x,
shifted by s = (i D_h - P_h) W + j D_w - P_w: each tap is a single long multiply-add loop,
out[t] += w[c, i, j] mask[i, j, t] x[t + s] (``tap_forward``), which LLVM vectorizes. The entries of
that run that wrap around a row edge, or past the top or bottom into the neighbouring plane, are taps
outside the image: the masks zero them (mask[i, j, p Wo + q] is 1 where row p + i D_h - P_h and column
q + j D_w - P_w lie inside). Where Ho = H as well (the 'same' geometry of MobileNet layers) the planes of
a group follow each other with the same shift, so one loop per tap covers the group (``Route.stacked``):
on small planes that keeps the loops long. A 3 x 3 kernel with P = D (``Route.fused``) takes all nine
taps in one loop (``forward_3x3``): tap (i, j) reads input t + s_ij, s_ij = (i - 1) D_h W + (j - 1) D_w;
the loop sums the nine taps of an output at once (measured, one core, a 2,304-long run: 1.5x faster than
tap by tap), four masks (``masks_3x3``) zeroing the rows above and below and the columns left and right;
the first and last reach = D_h W + D_w outputs of a run go tap by tap with their combined masks
(``edge_masks_3x3``). No padded copy is made.

Backward (the chain rule through the line above), in one pass over dy per group:

    dx[b, c, p + i D_h - P_h, q + j D_w - P_w] += w[c, i, j] dy[b, c, p, q]   (adjoint of the gather)
    dw[c, i, j] = sum_{b, p, q} dy[b, c, p, q] x[b, c, p + i D_h - P_h, q + j D_w - P_w]
    dbias[c]    = sum_{b, p, q} dy[b, c, p, q]

tap by tap (``tap_backward``: the scatter into dx and the tap's sum for dw in one loop) or, for the fused
3 x 3 route, as the same forward with the kernel flipped (the tap masks are symmetric: input v is tap
(i, j) of output v - s_ij exactly when that output is tap (2 - i, 2 - j) of v) and nine sums in one loop
(``weight_grad_3x3``). A task writes only its own planes of dx and its own partial sums ``dw_part[task]``,
``db_part[task]``; the caller sums those over the groups. No two tasks write the same element.

Every kernel this module's kernels call is defined in this file, so Numba's on-disk cache (which checks
only the source file of the function it compiled) never runs a stale callee.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import prange

from accel.jit import jit
from accel.route import Route


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


def _inside(geometry, x_hw):
    """(rows, cols): rows[i, p] = 1 where row p + (i - 1) D_h lies in [0, H), cols[j, q] likewise, i, j in 0..2."""
    _, _, (dil_h, dil_w), _ = geometry
    offsets = np.arange(3) - 1
    rows = np.arange(x_hw[0])[None, :] + (offsets * dil_h)[:, None]  # 3,H
    cols = np.arange(x_hw[1])[None, :] + (offsets * dil_w)[:, None]  # 3,W
    return (rows >= 0) & (rows < x_hw[0]), (cols >= 0) & (cols < x_hw[1])


def masks_3x3(geometry, x_hw, group, dtype):
    """(4, group H W): the row masks of i = 0, 2 and the column masks of j = 0, 2, over ``group`` planes."""
    rows, cols = _inside(geometry, x_hw)
    h, w = x_hw
    four = np.stack([np.repeat(rows[0], w), np.repeat(rows[2], w), np.tile(cols[0], h), np.tile(cols[2], h)]).astype(
        dtype
    )  # 4,H*W
    return np.ascontiguousarray(np.tile(four, (1, group)))


def edge_masks_3x3(geometry, x_hw, dtype):
    """(3, 3, 2, reach): tap (i, j)'s combined mask on a plane's first ``reach`` outputs and on its last ``reach``."""
    rows, cols = _inside(geometry, x_hw)
    combined = (rows[:, None, :, None] & cols[None, :, None, :]).reshape(3, 3, -1)  # 3,3,H*W
    reach = geometry[2][0] * x_hw[1] + geometry[2][1]
    ends = np.stack([combined[..., :reach], combined[..., combined.shape[2] - reach :]], axis=2)
    return np.ascontiguousarray(ends.astype(dtype))


@functools.lru_cache(maxsize=64)
def all_masks_3x3(geometry, x_hw, group, dtype):
    """(masks, edge_masks) for ``forward``, built once per geometry, plane size, group and dtype."""
    return masks_3x3(geometry, x_hw, group, dtype), edge_masks_3x3(geometry, x_hw, dtype)


def _interior(src, masks, row_shift, col_shift, n):
    """For outputs reach..n - reach of a run (reach = row_shift + col_shift): the four masks and the nine taps'
    inputs, each a slice aligned with those outputs (tap (i, j) at index 3 i + j)."""
    lo, hi, r, c = row_shift + col_shift, n - row_shift - col_shift, row_shift, col_shift
    four = (masks[0, lo:hi], masks[1, lo:hi], masks[2, lo:hi], masks[3, lo:hi])  # top, bottom, left, right
    nine = (
        src[lo - r - c : hi - r - c],
        src[lo - r : hi - r],
        src[lo - r + c : hi - r + c],
        src[lo - c : hi - c],
        src[lo:hi],
        src[lo + c : hi + c],
        src[lo + r - c : hi + r - c],
        src[lo + r : hi + r],
        src[lo + r + c : hi + r + c],
    )
    return four, nine


interior = jit(_interior, parallel=False)


def _forward_3x3(out, src, w, masks, edge_masks, row_shift, col_shift):
    """out[t] += sum_{i, j} w[i, j] [tap (i, j) inside] src[t + (i - 1) row_shift + (j - 1) col_shift] over the run
    (out and src of the same length, whole planes); masks and edge_masks as built above for this run."""
    n, reach = out.shape[0], row_shift + col_shift
    if n < 2 * reach:  # too short to have an inside: every output is an edge
        return False
    lo, hi = reach, n - reach
    four, nine = interior(src, masks, row_shift, col_shift, n)
    (top, bottom, left, right), (a00, a01, a02, a10, a11, a12, a20, a21, a22) = four, nine
    o = out[lo:hi]
    w00, w01, w02, w10, w11, w12, w20, w21, w22 = (
        w[0, 0],
        w[0, 1],
        w[0, 2],
        w[1, 0],
        w[1, 1],
        w[1, 2],
        w[2, 0],
        w[2, 1],
        w[2, 2],
    )
    for t in range(o.shape[0]):
        column0 = top[t] * w00 * a00[t] + w10 * a10[t] + bottom[t] * w20 * a20[t]
        column1 = top[t] * w01 * a01[t] + w11 * a11[t] + bottom[t] * w21 * a21[t]
        column2 = top[t] * w02 * a02[t] + w12 * a12[t] + bottom[t] * w22 * a22[t]
        o[t] += left[t] * column0 + column1 + right[t] * column2
    out_end, src_end = out[hi:], src[hi - reach :]  # src_end starts reach before out_end: shifts move by reach
    for i in range(3):
        for j in range(3):
            shift = (i - 1) * row_shift + (j - 1) * col_shift
            tap_forward(out, src, w[i, j], edge_masks[i, j, 0], shift, (0, reach), True)
            tap_forward(out_end, src_end, w[i, j], edge_masks[i, j, 1], shift + reach, (0, reach), True)
    return True


forward_3x3 = jit(_forward_3x3, parallel=False)


def _weight_grad_3x3(g, src, masks, edge_masks, row_shift, col_shift, d_taps):
    """d_taps[i, j] += sum_t [tap (i, j) of output t inside] g[t] src[t + s_ij] over a run (g and src of the same
    length, whole planes), nine sums in one loop; the edges tap by tap (``tap_backward``'s sum, into a
    scratch gradient). Returns False, computing nothing, if the run is too short for that split."""
    n, reach = g.shape[0], row_shift + col_shift
    if n < 2 * reach:
        return False
    lo, hi = reach, n - reach
    four, nine = interior(src, masks, row_shift, col_shift, n)
    (top, bottom, left, right), (a00, a01, a02, a10, a11, a12, a20, a21, a22) = four, nine
    gv = g[lo:hi]
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = src.dtype.type(0.0)
    for t in range(gv.shape[0]):
        g0, g1, g2 = left[t] * gv[t], gv[t], right[t] * gv[t]  # the three columns' masks
        g0t, g1t, g2t = top[t] * g0, top[t] * g1, top[t] * g2
        g0b, g1b, g2b = bottom[t] * g0, bottom[t] * g1, bottom[t] * g2
        s00 += g0t * a00[t]
        s01 += g1t * a01[t]
        s02 += g2t * a02[t]
        s10 += g0 * a10[t]
        s11 += g1 * a11[t]
        s12 += g2 * a12[t]
        s20 += g0b * a20[t]
        s21 += g1b * a21[t]
        s22 += g2b * a22[t]
    sums = ((s00, s01, s02), (s10, s11, s12), (s20, s21, s22))
    scratch, zero = np.zeros(2 * reach, dtype=src.dtype), src.dtype.type(0.0)  # the edges' (zero) dx, discarded
    g_end, src_end = g[hi:], src[hi - reach :]
    for i in range(3):
        for j in range(3):
            shift = (i - 1) * row_shift + (j - 1) * col_shift
            d_taps[i, j] += sums[i][j] + tap_backward(
                scratch, g, src, zero, edge_masks[i, j, 0], shift, (0, reach), True
            )
            end_mask = edge_masks[i, j, 1]
            d_taps[i, j] += tap_backward(scratch, g_end, src_end, zero, end_mask, shift + reach, (0, reach), True)
    return True


weight_grad_3x3 = jit(_weight_grad_3x3, parallel=False)


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


def _shapes(x, x_cm, out, group):
    """(B, C, H, W, Ho, Wo) of x (NCHW or channel-major) and the output, and the number of sample groups."""
    nb, nc, h, wd = (x.shape[1], x.shape[0], x.shape[2], x.shape[3]) if x_cm else x.shape
    return (nb, nc, h, wd, out.shape[2], out.shape[3]), (nb + group - 1) // group


shapes = jit(_shapes, parallel=False)


def _task_samples(task, n_groups, group, nb):
    """(channel, group index, first sample, stop sample) of a task."""
    k_group = task % n_groups
    b0 = k_group * group
    return task // n_groups, k_group, b0, min(b0 + group, nb)


task_samples = jit(_task_samples, parallel=False)


def _flat_tap(i, j, row_span, n_out, masks, stacked, geo):
    """(shift, range of t, mask, whether the mask is needed) of tap (i, j): one run over the group if
    ``stacked``, else the plane's valid rows ``row_span``; geo = (P_h, P_w, D_h, D_w, W)."""
    ph, pw, dil_h, dil_w, wd = geo
    shift = (i * dil_h - ph) * wd + j * dil_w - pw
    t_range = (0, n_out) if stacked else (row_span[0] * wd, row_span[1] * wd)
    masked = j * dil_w != pw or (stacked and i * dil_h != ph)  # else every tap lies inside the image
    return shift, t_range, masks[i if stacked else 0, j], masked


flat_tap = jit(_flat_tap, parallel=False)


def _forward(x, w, bias, masks, fused_masks, y, geometry, x_cm, y_cm, group, stacked):
    """x (B, C, H, W), or (C, B, H, W) if ``x_cm``, w (C, KH, KW), bias (C,), masks (KH, KW, group Ho Wo) ->
    y (B, C, Ho, Wo), or (C, B, Ho, Wo) if ``y_cm``; one channel and ``group`` samples per task, in one
    run per tap if ``stacked``, else plane by plane. ``fused_masks`` = (masks, edge masks) of
    ``forward_3x3`` on the fused 3 x 3 route, where all nine taps go in one loop, else None (Numba
    compiles the two cases apart)."""
    _, (ph, pw), (dil_h, dil_w), _ = geometry
    (nb, nc, h, wd, ho, wo), n_groups = shapes(x, x_cm, y, group)
    geo = (ph, pw, dil_h, dil_w, wd)
    kh, kw = w.shape[1], w.shape[2]
    for task in prange(nc * n_groups):
        c, _, b0, b1 = task_samples(task, n_groups, group, nb)
        src = gather(x, c, b0, b1, x_cm)  # (b1-b0)*H*W
        out = gather(y, c, b0, b1, y_cm) if y_cm or b1 - b0 == 1 else np.empty((b1 - b0) * ho * wo, dtype=x.dtype)
        out[:] = bias[c]
        for i0, i1, o0, o1 in plane_runs(b1 - b0, stacked, h * wd, ho * wo):
            src_k, out_k = src[i0:i1], out[o0:o1]
            if fused_masks is not None:
                if forward_3x3(out_k, src_k, w[c], fused_masks[0], fused_masks[1], dil_h * wd, dil_w):
                    continue
            for i in range(kh):
                plo, phi = max(0, ph - i * dil_h), min(ho, h + ph - i * dil_h)  # rows whose tap i lies inside
                for j in range(kw):
                    shift, t_range, mask, masked = flat_tap(i, j, (plo, phi), o1 - o0, masks, stacked, geo)
                    tap_forward(out_k, src_k, w[c, i, j], mask, shift, t_range, masked)
        scatter(out, y, c, b0, y_cm)


forward_kernel = jit(_forward)


def _backward(dy, x, w, masks, fused_masks, dx, dw_part, db_part, geometry, dy_cm, x_cm, group, stacked):
    """dy (B, C, Ho, Wo), or (C, B, Ho, Wo) if ``dy_cm``, x (B, C, H, W), or (C, B, H, W) if ``x_cm``,
    w (C, KH, KW) -> dx like x, dw_part (groups, C, KH, KW), db_part (groups, C). With ``fused_masks``
    (``forward_3x3``'s, not None on the fused 3 x 3 route), dx is its forward of dy with w flipped in both
    axes and dw its nine sums in one loop."""
    _, (ph, pw), (dil_h, dil_w), _ = geometry
    (nb, nc, h, wd, ho, wo), n_groups = shapes(x, x_cm, dy, group)
    geo = (ph, pw, dil_h, dil_w, wd)
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
            if fused_masks is not None:
                fm, edge_fm = fused_masks
                if weight_grad_3x3(g_k, src_k, fm, edge_fm, dil_h * wd, dil_w, dw_part[k_group, c]):
                    forward_3x3(d_src_k, g_k, w[c, ::-1, ::-1], fm, edge_fm, dil_h * wd, dil_w)
                    continue
            for i in range(kh):
                plo, phi = max(0, ph - i * dil_h), min(ho, h + ph - i * dil_h)  # rows whose tap i lies inside
                for j in range(kw):
                    shift, t_range, mask, masked = flat_tap(i, j, (plo, phi), o1 - o0, masks, stacked, geo)
                    dw_part[k_group, c, i, j] += tap_backward(
                        d_src_k, g_k, src_k, w[c, i, j], mask, shift, t_range, masked
                    )
        scatter(d_src, dx, c, b0, x_cm)


backward_kernel = jit(_backward)


@functools.lru_cache(maxsize=64)
def _masks(kernel_hw, x_hw, geometry, group, stacked, dtype):
    """(KH, KW, group Ho Wo) if ``stacked``: mask[i, j, p Wo + q] = 1 where row p + i D_h - P_h lies in [0, H)
    and column q + j D_w - P_w in [0, W), repeated for the ``group`` planes of a task. Else (1, KW, Ho Wo),
    the columns' part only: a lone plane's tap loops skip the rows outside the image."""
    _, (ph, pw), (dil_h, dil_w), (ho, wo) = geometry
    cols = np.arange(wo)[None, :] + (np.arange(kernel_hw[1]) * dil_w - pw)[:, None]  # KW,Wo
    inside = ((cols >= 0) & (cols < x_hw[1]))[None, :, None, :]  # 1,KW,1,Wo
    if stacked:
        rows = np.arange(ho)[None, :] + (np.arange(kernel_hw[0]) * dil_h - ph)[:, None]  # KH,Ho
        inside = ((rows >= 0) & (rows < x_hw[0]))[:, None, :, None] & inside  # KH,KW,Ho,Wo
    inside = np.broadcast_to(inside, (inside.shape[0], kernel_hw[1], ho, wo)).reshape(inside.shape[0], kernel_hw[1], -1)
    return np.ascontiguousarray(np.tile(inside.astype(dtype), (1, 1, group)))


def _operands(x_hw, w, route: Route, dtype):
    """(taps (C, KH, KW), masks, the 3 x 3 masks) for the kernels; the 3 x 3 masks are None off the fused route."""
    masks = _masks(tuple(w.shape[2:]), tuple(x_hw), route.geometry, route.group, route.stacked, dtype)
    fused_masks = all_masks_3x3(route.geometry, tuple(x_hw), route.group, dtype) if route.fused else None
    return np.ascontiguousarray(w[:, 0]), masks, fused_masks


def depthwise_forward(x, w, bias, route: Route, x_channel_major=False, y_channel_major=False):
    """Eq. (7): x (B, C, H, W) C-contiguous, w (C, 1, KH, KW), bias (C,) or None -> y (B, C, Ho, Wo), on the
    planar route ``route`` (``accel.route.plan``). With ``x_channel_major`` x is (C, B, H, W), with
    ``y_channel_major`` y is (C, B, Ho, Wo)."""
    nc, nb = x.shape[:2] if x_channel_major else x.shape[1::-1]
    ho, wo = route.geometry.out
    taps, masks, fused_masks = _operands(x.shape[2:], w, route, x.dtype)
    y = np.empty((nc, nb, ho, wo) if y_channel_major else (nb, nc, ho, wo), dtype=x.dtype)  # C,B,Ho,Wo or B,C,Ho,Wo
    bias = np.zeros(nc, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    forward_kernel(
        x,
        taps,
        bias,
        masks,
        fused_masks,
        y,
        route.geometry,
        x_channel_major,
        y_channel_major,
        route.group,
        route.stacked,
    )
    return y


def depthwise_backward(dy, x, w, route: Route, dy_channel_major=False, x_channel_major=False):
    """Gradients of ``depthwise_forward`` (derivation in the module docstring): ``(dx, dw, dbias)``.

    dy (B, C, Ho, Wo) and x (B, C, H, W) C-contiguous, or (C, B, Ho, Wo) and (C, B, H, W) with
    ``dy_channel_major`` and ``x_channel_major``; w (C, 1, KH, KW); dx is like x, dw like w, dbias (C,).
    """
    nc, nb = x.shape[:2] if x_channel_major else x.shape[1::-1]
    taps, masks, fused_masks = _operands(x.shape[2:], w, route, x.dtype)
    n_groups = -(-nb // route.group)
    dx = np.empty_like(x)  # like x
    dw_part = np.empty((n_groups, nc, *w.shape[2:]), dtype=x.dtype)  # groups,C,KH,KW
    db_part = np.empty((n_groups, nc), dtype=x.dtype)  # groups,C
    backward_kernel(
        dy,
        x,
        taps,
        masks,
        fused_masks,
        dx,
        dw_part,
        db_part,
        route.geometry,
        dy_channel_major,
        x_channel_major,
        route.group,
        route.stacked,
    )
    return dx, dw_part.sum(axis=0)[:, None], db_part.sum(axis=0)
