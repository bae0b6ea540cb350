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

Vector width. On a CPU with AVX-512, LLVM prefers 256-bit vectors (its tuning for these cores), so a tile of 16
float32 sums would take two registers and half the fused multiply-adds a cycle the core can do. The same scope
marks every function of such a kernel ``"prefer-vector-width"="512"`` (an LLVM function attribute, which
overrides that tuning for the function alone): one 16-channel row of a tile is one register. On a CPU without
AVX-512 the attribute changes nothing. Measured on two Xeon cores with AVX-512, the pointwise product of 8,192
pixels x 256 channels: 195 -> 248 GFLOP/s with the 8 x 16 tiles (the 4 x 16 tiles gained nothing: four
accumulators do not cover the latency of the two FMA units; 8 x 32 tiles went further, 236 -> 282-305).
The scope also adds x86's ``prefer-no-gather`` tuning to those functions' target features: with 512-bit vectors
the SLP vectorizer packed a tile's eight pixel values, one per row of x, into a gather and broadcast them from
it by permutes, which made the 32 x 16 x 16 product of a ResNet-110 row 0.93 us instead of 0.71 (the 8 x 32
tile at 512 channels: 71 instead of 140 GFLOP/s on one core).
"""

from __future__ import annotations

import contextlib

import numba
from llvmlite import ir
from numba.core import codegen, config

FASTMATH = {"reassoc", "contract"}
TILE_FASTMATH = {"contract"}
WIDE_VECTORS = '"prefer-vector-width"="512"'  # an LLVM string attribute of a function
NO_GATHERS = "+prefer-no-gather"  # an x86 tuning feature, added to the function's target features


def _tile_attributes(fn, features: str):
    """``fn.attributes`` (llvmlite's, which accept only LLVM's named attributes) plus ``WIDE_VECTORS`` and the
    code generator's target ``features`` with ``NO_GATHERS``."""
    extra = {WIDE_VECTORS, f'"target-features"="{features},{NO_GATHERS}"'}
    marked = ir.FunctionAttributes()
    marked._known = ir.FunctionAttributes._known | extra
    for name in (*fn.attributes, *extra):
        marked.add(name)
    marked.alignstack, marked.personality = fn.attributes.alignstack, fn.attributes.personality
    return marked


def _marked_for_tiles(ir_module, features: str):
    """Every function that ``ir_module`` defines given ``_tile_attributes``."""
    for fn in ir_module.functions:
        if not fn.is_declaration:
            fn.attributes = _tile_attributes(fn, features)
    return ir_module


@contextlib.contextmanager
def slp_vectorization():
    """Inside the block, ``numba.core.config.SLP_VECTORIZE`` on and every function Numba compiles marked
    ``WIDE_VECTORS`` (module docstring); then both as they were before."""
    before, add_ir_module = config.SLP_VECTORIZE, codegen.CPUCodeLibrary.add_ir_module
    config.SLP_VECTORIZE = 1
    codegen.CPUCodeLibrary.add_ir_module = lambda library, module: add_ir_module(
        library,
        _marked_for_tiles(module, library.codegen._tm_features),  # the features Numba's target machine has
    )
    try:
        yield
    finally:
        config.SLP_VECTORIZE = before
        codegen.CPUCodeLibrary.add_ir_module = add_ir_module


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
