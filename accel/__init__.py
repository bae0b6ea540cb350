"""The Numba fast path: the ``reference`` contract, compiled, with fused BSConv kernels.

Every function has the name, signature and semantics of its ``reference`` counterpart (NCHW arrays,
PyTorch weight layouts, float32 or float64 in and the same dtype out) and raises the same errors for
bad input (both use ``reference.checks``). A forward returns ``(y, cache)``; the cache is accel's own
and only accel's backward reads it. Threads: ``numba.set_num_threads`` for the Numba kernels (which
run on Numba's OpenMP or workqueue pool, see ``accel.jit``, which also says why importing accel sets
``OPENBLAS_THREAD_TIMEOUT``), the BLAS library's own setting for the pointwise matrix products.

The analysis helpers of ``reference`` (``*_kernel``, ``pc1_explained_variance``,
``blueprint_factorize``) are not performance paths and are not repeated here.
"""
from accel.conv2d import conv2d_backward, conv2d_forward
from accel.orthonormal import orthonormal_loss, orthonormal_loss_backward
from accel.separable import (
    bsconv_s_backward,
    bsconv_s_forward,
    bsconv_u_backward,
    bsconv_u_forward,
    dsc_backward,
    dsc_forward,
)

__all__ = [
    "conv2d_forward",
    "conv2d_backward",
    "dsc_forward",
    "dsc_backward",
    "bsconv_u_forward",
    "bsconv_u_backward",
    "bsconv_s_forward",
    "bsconv_s_backward",
    "orthonormal_loss",
    "orthonormal_loss_backward",
]
