"""NCHW -> channels-last, for the input of the channels-last depthwise kernels (``accel.depthwise``).

Viewing both layouts as 3-D, (B, C, H W) and (B, H W, C), the change swaps the last two axes. BSConv
never needs it (its pointwise products write and read channels-last directly, since BLAS multiplies
by a transposed operand for free); DSC and a depthwise ``conv2d`` use it on x when they take the
channels-last kernels (dx comes back NCHW from the kernel itself).
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


def to_channels_last(x):
    """(B, C, H, W) -> (B, H, W, C), a new C-contiguous array."""
    nb, c, h, w = x.shape
    out = np.empty((nb, h, w, c), dtype=x.dtype)  # B,H,W,C
    swap_last_axes(np.ascontiguousarray(x).reshape(nb, c, h * w), out.reshape(nb, h * w, c))
    return out

