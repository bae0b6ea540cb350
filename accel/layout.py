"""Layout changes between NCHW and the two layouts accel's kernels prefer.

- Channel-major, (C, B, H, W): ``fold`` / ``unfold``. Viewed as the matrix (C, B H W), a whole batch
  is one operand, so a pointwise step (Eq. 6, 12, 13) is one matrix product over the batch instead
  of B small ones (measured here, 2 cores, float32: about 450 GFLOP/s against 200-370 for per-sample
  products on the MobileNet shapes). The change moves contiguous runs of H W values, so it costs
  little more than a copy.
- Channels-last, (B, H, W, C): ``to_channels_last``, for the input of the channels-last depthwise
  kernels (``accel.nhwc``) where it comes NCHW (DSC, a depthwise ``conv2d``). Viewing both
  layouts as 3-D, (B, C, H W) and (B, H W, C), the change swaps the last two axes.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from accel.jit import jit

TILE = 16  # rows of src per task: the band's columns are read from a few cache lines at a time


def _swap_last_axes(src, dst):
    """dst[b, s, r] = src[b, r, s] for src (B, R, S), dst (B, S, R), in bands of TILE rows of src."""
    nb, nr, ns = src.shape
    row_tiles = (nr + TILE - 1) // TILE
    for task in prange(nb * row_tiles):
        b, r0 = task // row_tiles, (task % row_tiles) * TILE
        r1 = min(r0 + TILE, nr)
        for s in range(ns):
            column, out = src[b, r0:r1, s], dst[b, s, r0:r1]  # strided read, contiguous write
            for t in range(out.shape[0]):
                out[t] = column[t]


swap_last_axes = jit(_swap_last_axes)


def _swap_leading_axes(src, dst, offsets, run_sums):
    """dst[j, i] = src[i, j] + offsets[i] for src (I, J, P), dst (J, I, P): I J contiguous runs of P values.
    offsets is (I,) or None (nothing added); run_sums, (I, J) or None, receives each run's sum. Numba
    compiles one version per combination of None and array, each without the branches it does not take."""
    ni, nj, _ = src.shape
    for task in prange(ni * nj):
        i, j = task // nj, task % nj
        run, out = src[i, j], dst[j, i]
        if offsets is None:
            out[:] = run
        else:
            for t in range(run.shape[0]):
                out[t] = run[t] + offsets[i]
        if run_sums is not None:
            run_sums[i, j] = run.sum()


swap_leading_axes = jit(_swap_leading_axes)


def to_channels_last(x):
    """(B, C, H, W) -> (B, H, W, C), a new C-contiguous array."""
    nb, c, h, w = x.shape
    out = np.empty((nb, h, w, c), dtype=x.dtype)  # B,H,W,C
    swap_last_axes(np.ascontiguousarray(x).reshape(nb, c, h * w), out.reshape(nb, h * w, c))
    return out


def fold(x, channel_sums=False):
    """(B, C, H, W) -> the channel-major matrix (C, B H W), a new C-contiguous array; with ``channel_sums``
    also the sum of x over B, H, W per channel, (C,), taken in the same pass."""
    nb, c = x.shape[:2]
    out = np.empty((c, nb, x[0, 0].size), dtype=x.dtype)  # C,B,H*W
    run_sums = np.empty((nb, c), dtype=x.dtype) if channel_sums else None  # B,C
    swap_leading_axes(np.ascontiguousarray(x).reshape(nb, c, -1), out, None, run_sums)
    return (out.reshape(c, -1), run_sums.sum(axis=0)) if channel_sums else out.reshape(c, -1)


def unfold(x_mat, shape, bias=None):
    """The channel-major matrix (C, B H W) -> NCHW of ``shape`` (B, C, H, W), a new C-contiguous array,
    plus ``bias`` (C,) per channel if given."""
    nb, c = shape[:2]
    out = np.empty(shape, dtype=x_mat.dtype)  # B,C,H,W
    offsets = None if bias is None else np.ascontiguousarray(bias, dtype=x_mat.dtype)
    swap_leading_axes(np.ascontiguousarray(x_mat).reshape(c, nb, -1), out.reshape(nb, c, -1), offsets, None)
    return out
