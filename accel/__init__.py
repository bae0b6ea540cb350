"""The Numba fast path: the ``reference`` contract, compiled, with fused BSConv kernels.

Every function has the name, signature and semantics of its ``reference`` counterpart (NCHW arrays,
PyTorch weight layouts, float32 or float64 in and the same dtype out) and raises the same errors for
bad input (both use ``reference.checks``). A forward returns ``(y, cache)``; the cache is accel's own
and only accel's backward reads it. The separable ops also take ``channels_last=True``: x, y, dy and dx as
(B, H, W, C), every step in that layout (``accel.separable``; the accel backend's path for channels-last tensors). Importing accel changes nothing in the process (``accel.jit``).
Threads: ``numba.set_num_threads`` for every kernel. The pointwise matrix products run on the ``matmul``
the separable ops take: by default ``accel.gemm.matmul``, accel's register tiles on the same Numba threads,
so a direct call uses one thread team (NumPy's BLAS pool and Numba's took turns on the cores); the accel
backend of ``blueprint`` passes PyTorch's, which runs on the team PyTorch and Numba share there
(``blueprint.accel_threads``).

Where each step runs: the pointwise products of Eq. (6), (12), (13) and Sec. 4.1 in ``accel.pointwise``
(on ``accel.layout``'s channel-major matrices); the depthwise step, Eq. (7), on the route that
``accel.route.plan`` picks, in ``accel.planar`` (NCHW and channel-major planes) or ``accel.nhwc``
(channels-last); the chains of Eq. (6)-(7), (12)-(14) and Sec. 4.1 in ``accel.separable``; Eq. (1) in
``accel.conv2d`` (``accel.im2col``); Eq. (9) in ``accel.orthonormal``. The register tiles of the pointwise
products and the fused inference layers (BSConv-U as one pass, its pointwise output in a ring of rows;
1 x 1 convolutions; bias, residual and activation epilogues) on channels-last activations in
``accel.tiles``, their Python side in ``accel.fused_nhwc`` and ``accel.gemm``.

The analysis helpers of ``reference`` (``*_kernel``, ``pc1_explained_variance``,
``blueprint_factorize``) are not performance paths and are not repeated here.
"""

from accel import fused_nhwc
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
    "fused_nhwc",
]
