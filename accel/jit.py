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

SLP vectorization. The register tiles of ``accel.tiles`` keep their sums in scalar locals; only LLVM's SLP
vectorizer turns those into vector registers (3-4 GFLOP/s without it, 80-110 with it, one core, float32,
against 90-110 for OpenBLAS on the same shapes). Numba leaves it off (``numba.core.config.SLP_VECTORIZE``,
read each time a function is optimized), and setting it for the process would change how every other
Numba function in it compiles. So ``jit(..., vectorize=True)`` turns it on only while that kernel compiles
or loads from the cache (``slp_vectorization``), and puts the setting back afterwards. The cached machine
code does not record the setting, but a ``vectorize=True`` kernel is only ever compiled with it on, so the
cache holds the vectorized code (``tests/test_accel_jit.py`` checks both, in fresh interpreters). Those
kernels also leave out ``reassoc``: with it the loop vectorizer takes the reduction over the input channels
instead and the tile gets slower.
"""

from __future__ import annotations

import contextlib

import numba
from numba.core import config

FASTMATH = {"reassoc", "contract"}
TILE_FASTMATH = {"contract"}


@contextlib.contextmanager
def slp_vectorization():
    """``numba.core.config.SLP_VECTORIZE`` on inside the block, then what it was before."""
    before = config.SLP_VECTORIZE
    config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        config.SLP_VECTORIZE = before


def _compiling_vectorized(dispatcher):
    """``dispatcher`` whose every compilation (or load from the cache) of a new signature runs under
    ``slp_vectorization``; the dispatcher calls ``compile`` exactly then."""
    compile_signature = dispatcher.compile

    def compile(sig):
        with slp_vectorization():
            return compile_signature(sig)

    dispatcher.compile = compile
    return dispatcher


def jit(fn=None, *, parallel=True, vectorize=False):
    """``numba.njit(cache=True, parallel=..., fastmath=FASTMATH)(fn)``; also ``@jit`` or ``@jit(parallel=False)``.
    ``vectorize=True``: compiled with SLP vectorization and ``TILE_FASTMATH`` (module docstring)."""

    def compile_(f):
        fastmath = TILE_FASTMATH if vectorize else FASTMATH
        dispatcher = numba.njit(cache=True, parallel=parallel, fastmath=fastmath)(f)
        return _compiling_vectorized(dispatcher) if vectorize else dispatcher

    return compile_ if fn is None else compile_(fn)
