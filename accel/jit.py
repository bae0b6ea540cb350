"""How every kernel in ``accel`` is compiled, and which thread pool runs the parallel ones.

Kernels are plain Python functions (they run unchanged without Numba, for debugging and coverage)
compiled with ``jit(fn)``: ``cache=True`` so that a second process loads machine code from disk
instead of compiling, and ``fastmath`` limited to reassociation and fused multiply-add so that the
dot-product loops vectorize (no assumptions about NaN or infinity). ``parallel=True`` kernels loop
with ``prange`` over disjoint output planes only; reductions go to per-plane buffers that the caller
sums afterwards.

Numba's on-disk cache checks only the source file of the function it compiled: a kernel that called
a kernel of another module would keep its cached machine code when only the callee's file changed.
So every kernel calls only kernels of its own file (``tests/test_accel_cache.py`` checks this).

Threads. Importing accel changes nothing in the process: no environment variable, no BLAS setting,
no choice of Numba's threading layer (Numba picks its default at the first parallel kernel). The thread
count of the parallel kernels is ``numba.set_num_threads``'s; the pointwise products run on the
``matmul`` that the separable ops take (``numpy.matmul`` by default). How the accel backend of
``blueprint`` sets both up so that one thread team runs a whole training step is in
``blueprint.accel_threads``.
"""
from __future__ import annotations

import numba

FASTMATH = {"reassoc", "contract"}


def jit(fn=None, *, parallel=True):
    """``numba.njit(cache=True, parallel=..., fastmath=FASTMATH)(fn)``; also ``@jit`` or ``@jit(parallel=False)``."""

    def compile_(f):
        return numba.njit(cache=True, parallel=parallel, fastmath=FASTMATH)(f)

    return compile_ if fn is None else compile_(fn)
