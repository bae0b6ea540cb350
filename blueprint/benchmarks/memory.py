"""Peak memory of BSConv-U two ways (accel, forward + backward, float32), measured with ``tracemalloc``.

Naive: build the full (N, M, K, K) kernel of Eq. (2) and run a regular convolution (im2col holds
B M K^2 Ho Wo values). Factorized: Eq. (6)-(7), whose largest intermediate is V' (B N H W). NumPy
reports its buffers to ``tracemalloc``; the small per-task scratch buffers of the Numba kernels are not
counted, so the figures are the arrays' peak.
"""

from __future__ import annotations

import tracemalloc

import accel
import reference
from blueprint.benchmarks.ops import Shape, inputs


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def bsconv_u_peak_memory(s: Shape) -> dict:
    """``{"naive_mib": ..., "factorized_mib": ...}`` for one forward + backward at shape ``s``."""
    x, (w_pw, w_dw, b), dy = inputs("bsconv_u", s)

    def naive():
        w = reference.bsconv_u_kernel(w_pw, w_dw)  # N,M,K,K
        _, cache = accel.conv2d_forward(x, w, b, stride=s.stride, padding=s.padding)
        accel.conv2d_backward(dy, cache)

    def factorized():
        _, cache = accel.bsconv_u_forward(x, w_pw, w_dw, b, stride=s.stride, padding=s.padding)
        accel.bsconv_u_backward(dy, cache)

    naive()  # compile outside the measurement
    factorized()
    return {"naive_mib": _peak_mib(naive), "factorized_mib": _peak_mib(factorized)}
