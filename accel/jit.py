"""How every kernel in ``accel`` is compiled, and which thread pool runs the parallel ones.

Kernels are plain Python functions (they run unchanged without Numba, for debugging and coverage)
compiled with ``jit(fn)``: ``cache=True`` so that a second process loads machine code from disk
instead of compiling, and ``fastmath`` limited to reassociation and fused multiply-add so that the
dot-product loops vectorize (no assumptions about NaN or infinity). ``parallel=True`` kernels loop
with ``prange`` over disjoint output planes only; reductions go to per-plane buffers that the caller
sums afterwards.

Numba's on-disk cache checks only the source file of the function it compiled: a kernel that calls
a kernel of another module (``accel.planes`` calls ``accel.taps3x3``) keeps its cached machine code
when only the callee's file changes. After editing such a callee, delete ``accel/__pycache__/*.nbi``
(an installed new version replaces every file, so it starts clean).

Thread pools. accel's parallel kernels are short (tens of microseconds to a few milliseconds)
and alternate with BLAS matrix products, so what a kernel costs to start matters as much as what it
costs to run. Numba's OpenMP layer starts one in about 1 microsecond, because its idle threads spin;
the workqueue layer's threads sleep, and waking them costs 60-90 microseconds per kernel here
(measured: an empty two-thread kernel), several times per forward and backward. Spinning threads are
only safe if the BLAS library's idle threads do not spin too: by default OpenBLAS's busy-wait for
2^28 cycles (about 0.1 s) after every call, and an OpenMP kernel that follows a matrix product then
waits milliseconds for a core (measured here: 8 ms instead of 2 microseconds). So ``accel`` and
``blueprint`` set ``OPENBLAS_THREAD_TIMEOUT=4`` (idle OpenBLAS threads sleep after 2^4 cycles) as
they are imported, unless the environment sets it. An OpenBLAS reads it when it starts its thread
pool; one that NumPy (or ``import torch``, which imports NumPy) loaded earlier is asked to read its
environment again and to restart its pool (``quiet_openblas``; its thread count is kept) when no
BLAS call is running, at accel's import. Then accel asks Numba for its OpenMP layer (where
available), and otherwise, if some OpenBLAS threads still spin (the environment asks for it, or an
OpenBLAS without those entry points), for the workqueue layer: slower to start a kernel, never
stalled. A ``NUMBA_THREADING_LAYER`` in the environment wins over both. The workqueue layer's one
limit: two Python threads must not run accel's parallel kernels at the same time.
"""
from __future__ import annotations

import ctypes
import os

import numba
import threadpoolctl

FASTMATH = {"reassoc", "contract"}
SLEEPING_TIMEOUT = 10  # OPENBLAS_THREAD_TIMEOUT at or below this: idle threads sleep within 2^10 cycles


def _spins(openblas_path):
    try:
        timeout = ctypes.CDLL(openblas_path).openblas_thread_timeout()
    except (OSError, AttributeError):  # an OpenBLAS that does not say: assume the default
        return True
    return not 0 < timeout <= SLEEPING_TIMEOUT


def _openblas_paths():
    """The files of the OpenBLAS libraries loaded in this process (NumPy's, SciPy's)."""
    return [i["filepath"] for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]


def blas_threads_spin(paths=None):
    """Whether an OpenBLAS loaded in this process has idle threads that busy-wait: its OPENBLAS_THREAD_TIMEOUT,
    read when it started its pool, unset or above ``SLEEPING_TIMEOUT``. ``paths``: the libraries to ask."""
    return any(_spins(path) for path in (_openblas_paths() if paths is None else paths))


def quiet_openblas(paths=None):
    """Make every loaded OpenBLAS whose idle threads spin re-read its environment (where that now asks for
    sleeping threads) and restart its thread pool, which it does lazily at its next call with the same
    thread count. For an OpenBLAS loaded before OPENBLAS_THREAD_TIMEOUT was set; call it while no BLAS
    call is running (OpenBLAS's own fork handler restarts the pool the same way)."""
    wanted = os.environ.get("OPENBLAS_THREAD_TIMEOUT", "")
    if not (wanted.isdigit() and 0 < int(wanted) <= SLEEPING_TIMEOUT):
        return
    for path in _openblas_paths() if paths is None else paths:
        if _spins(path):
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_read_env()
                lib.blas_thread_shutdown_()
            except (OSError, AttributeError):  # an OpenBLAS without these entry points keeps spinning
                continue


_OPENBLAS = _openblas_paths()  # one scan of the loaded libraries at import
quiet_openblas(_OPENBLAS)
BLAS_THREADS_SPIN = blas_threads_spin(_OPENBLAS)  # as accel is imported; it decides the pool below


if "NUMBA_THREADING_LAYER" not in os.environ:
    if BLAS_THREADS_SPIN:
        numba.config.THREADING_LAYER = "workqueue"
    else:
        numba.config.THREADING_LAYER = "default"
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]


def jit(fn=None, *, parallel=True):
    """``numba.njit(cache=True, parallel=..., fastmath=FASTMATH)(fn)``; also ``@jit`` or ``@jit(parallel=False)``."""

    def compile_(f):
        return numba.njit(cache=True, parallel=parallel, fastmath=FASTMATH)(f)

    return compile_ if fn is None else compile_(fn)
