"""The Numba fast path: the ``reference`` contract, compiled, with fused BSConv kernels.

Every function has the name, signature and semantics of its ``reference`` counterpart (NCHW arrays,
PyTorch weight layouts, float32 or float64 in and the same dtype out) and raises the same errors for
bad input (both use ``reference.checks``). A forward returns ``(y, cache)``; the cache is accel's own
and only accel's backward reads it. Importing accel changes nothing in the process (``accel.jit``).
Threads: ``numba.set_num_threads`` for the Numba kernels; the pointwise matrix products run on the
``matmul`` the separable ops take (``numpy.matmul`` by default; the accel backend of ``blueprint``
passes PyTorch's, see ``blueprint.accel_threads``).

Where each step runs: the pointwise products of Eq. (6), (12), (13) and Sec. 4.1 in ``accel.pointwise``
(on ``accel.layout``'s channel-major matrices); the depthwise step, Eq. (7), on the route that
``accel.route.plan`` picks, in ``accel.planar`` (NCHW and channel-major planes) or ``accel.nhwc``
(channels-last); the chains of Eq. (6)-(7), (12)-(14) and Sec. 4.1 in ``accel.separable``; Eq. (1) in
``accel.conv2d`` (``accel.im2col``); Eq. (9) in ``accel.orthonormal``.

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
