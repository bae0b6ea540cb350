"""How every kernel in ``accel`` is compiled, and which thread pool runs the parallel ones.

Kernels are plain Python functions (they run unchanged without Numba, for debugging and coverage)
compiled with ``jit(fn)``: ``cache=True`` so that a second process loads machine code from disk
instead of compiling, and ``fastmath`` limited to reassociation and fused multiply-add so that the
dot-product loops vectorize (no assumptions about NaN or infinity). ``parallel=True`` kernels loop
with ``prange`` over disjoint output planes only; reductions go to per-plane buffers that the caller
sums afterwards.

Thread pool: unless ``NUMBA_THREADING_LAYER`` says otherwise, accel asks Numba for its ``workqueue``
layer. Numba's default pick here is OpenMP, whose idle threads spin after every parallel region (and
share libgomp with PyTorch); accel alternates its kernels with BLAS calls, whose idle threads spin
too, and on two cores the two pools then starve each other for milliseconds per call (measured
here: some steps 10-100x slower). Workqueue threads sleep when idle. Its one limit: two Python threads must not
run accel's parallel kernels at the same time.
"""
from __future__ import annotations

import os

import numba

FASTMATH = {"reassoc", "contract"}

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


def jit(fn=None, *, parallel=True):
    """``numba.njit(cache=True, parallel=..., fastmath=FASTMATH)(fn)``; also ``@jit`` or ``@jit(parallel=False)``."""

    def compile_(f):
        return numba.njit(cache=True, parallel=parallel, fastmath=FASTMATH)(f)

    return compile_ if fn is None else compile_(fn)
