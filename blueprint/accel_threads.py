"""The accel backend's thread set-up, in one place: what it changes in the process, when, and why.

Importing ``blueprint`` or ``accel`` changes nothing: no environment variable, no BLAS setting, no choice
of Numba's threading layer, and ``import blueprint`` does not load Numba. All of it happens here, when the
accel backend first runs a layer (``accel()``), or around each accel call (``scope()``):

- **One thread team for a whole training step.** The torch backend runs every op of a step (its
  convolutions through oneDNN and MKL, BatchNorm, ReLU, the optimizer) on one OpenMP team, from the
  ``libgomp`` that ships with PyTorch. At first use, unless ``NUMBA_THREADING_LAYER`` is set or Numba has
  already started a threading layer, Numba is asked for its OpenMP layer (then TBB, then workqueue, where
  a build lacks it). Numba's OpenMP pool is a small library whose OpenMP calls the dynamic linker binds to
  the first ``libgomp`` in the process, and PyTorch (imported by ``blueprint`` before accel) has loaded its
  own with global symbols: so accel's parallel kernels run on the very threads PyTorch's ops run on, and
  no second team spins while the first works (teams that busy-wait between calls would take turns on the
  cores once per layer).
- **The pointwise products on PyTorch's BLAS.** The accel ops take the matrix product of their pointwise
  steps as an argument; the accel backend passes ``torch.mm`` on the NumPy arrays (``blueprint.backend``),
  which runs MKL on that same team. NumPy's OpenBLAS, with its own pool of threads that busy-wait after each
  call, then takes no part in a step, and nothing about it needs setting.
- **As many Numba threads as PyTorch uses** (``torch.get_num_threads``), set for the duration of each accel
  call and restored after it (``scope``), so that ``torch.set_num_threads`` and ``torchrun``'s one thread per
  process hold for accel's kernels too.
"""

from __future__ import annotations

import contextlib
import functools
import os

import torch


@functools.lru_cache(maxsize=None)
def accel():
    """The ``accel`` module, imported on the first call after choosing Numba's threading layer (module docstring)
    and starting it; PyTorch's thread count, which starting Numba's OpenMP layer can reset, is kept."""
    import numba
    from numba.np.ufunc import parallel

    threads = torch.get_num_threads()
    if "NUMBA_THREADING_LAYER" not in os.environ and not parallel._is_initialized:
        numba.config.THREADING_LAYER = "default"
        numba.config.THREADING_LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
    import accel as module

    parallel._launch_threads()
    torch.set_num_threads(threads)
    return module


@contextlib.contextmanager
def scope():
    """Numba's thread count set to PyTorch's (at most Numba's maximum) inside the block, then restored."""
    import numba

    threads = torch.get_num_threads()
    accel()
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)
