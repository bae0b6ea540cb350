"""The matrix product of accel's pointwise steps on its own tiles and threads: ``matmul(a, b) = a @ b``.

This is the default ``matmul`` of the separable ops (``accel.separable``). It runs on Numba's thread team,
the team that runs accel's other kernels, so a direct call of an accel op never waits on a second pool:
NumPy's OpenBLAS keeps its threads spinning after each product, and with Numba's team spinning too the two
took turns on the cores, every call a multiple of the scheduler's 4 ms tick (measured on two cores, a
process that had imported torch: 16-32 ms for BSConv-U forward + backward on 16 x 128 x 16 x 16, about
2.6 ms with one team).

B is packed into tiles of 16 columns (``accel.tiles.pack_columns``, in parallel, any strides), A is read
where it lies, row-major or column-major (a transposed view: the tile's four pixels of one input channel are
then adjacent), and copied only if it is neither. The parallel tasks (``accel.tiles.matmul_kernel``) are
blocks of rows of A (``rows_per_task``), each writing whole rows of the result.
"""

from __future__ import annotations

import numba
import numpy as np

from accel.tiles import TILE, TILE_PIXELS, matmul_kernel, pack_columns


def packed_columns(b):
    """b (K, J) -> (ceil(J / 16), K, 16): tiles of 16 columns, zero-padded."""
    tiles = -(-b.shape[1] // TILE)
    w = np.empty((tiles, b.shape[0], TILE), dtype=b.dtype)  # NB,K,16
    pack_columns(b, w, b.strides[0] < b.strides[1])
    return w


def rows_per_task(n_rows, threads):
    """About four tasks a thread, each a whole number of 8-row tiles."""
    rows = -(-n_rows // (4 * threads))
    return max(TILE_PIXELS, -(-rows // TILE_PIXELS) * TILE_PIXELS)


def matmul(a, b):
    """a (I, K) @ b (K, J) -> (I, J), a new C-contiguous array; any strides (transposed views too), float32 or
    float64, both of one dtype."""
    if not (a.flags.c_contiguous or a.flags.f_contiguous):
        a = np.ascontiguousarray(a)
    w = packed_columns(b)
    out = np.empty((a.shape[0], w.shape[0] * TILE), dtype=a.dtype)  # I,16 NB
    rows = rows_per_task(a.shape[0], numba.get_num_threads())
    matmul_kernel(a, w, np.zeros(out.shape[1], dtype=a.dtype), out, rows)
    return out if out.shape[1] == b.shape[1] else np.ascontiguousarray(out[:, : b.shape[1]])
