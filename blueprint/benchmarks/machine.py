"""The machine's two limits that the benchmarks print their figures beside, and the rates compared with them.

- ``matmul_peak_gflops``: the best float32 GEMM rate on this machine at the current thread count, as
  PyTorch's BLAS (MKL on x86) reaches it on large square matrices: the roof of arithmetic;
- ``copy_bandwidth_gbps``: the best rate of copying a large float32 array (bytes read plus bytes written):
  the roof of memory traffic.

``bench layers``, ``bench latency`` and ``bench backends`` all measure them with these functions and store
them with their rows, so that a roofline (``blueprint.benchmarks.roofline``) can be drawn from the JSON alone.
"""

from __future__ import annotations

import time

import numpy as np
import torch


def best_ms(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls after one warm-up call (which also compiles), in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def rate(amount: float, ms: float) -> float:
    """``amount`` (FLOPs or bytes) per ``ms`` milliseconds, in billions per second (GFLOP/s or GB/s)."""
    return amount / ms / 1e6


def matmul_peak_gflops(size: int = 1024, repeats: int = 10) -> float:
    """The best float32 GEMM rate of PyTorch's BLAS on size x size matrices (2 size^3 FLOPs), measured three
    times on PyTorch's current thread count."""
    a = torch.from_numpy(np.random.default_rng(0).standard_normal((size, size), dtype=np.float32))
    return max(rate(2.0 * size**3, best_ms(lambda: a @ a, repeats)) for _ in range(3))


def copy_bandwidth_gbps(mib: int = 256, repeats: int = 10) -> float:
    """The best rate of copying a float32 array of ``mib`` MiB into another (bytes read plus bytes written,
    GB/s), with NumPy and with PyTorch's threaded copy, each measured twice; both arrays touched first."""
    src = np.ones(mib << 18, dtype=np.float32)
    dst = np.zeros_like(src)
    src_t, dst_t = torch.from_numpy(src), torch.from_numpy(dst)
    moved = 2.0 * src.nbytes
    copies = (lambda: np.copyto(dst, src), lambda: dst_t.copy_(src_t)) * 2
    return max(rate(moved, best_ms(fn, repeats)) for fn in copies)
