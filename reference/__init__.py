"""The NumPy reference of Blueprint Separable Convolutions: the readable specification.

Vectorized ops (what users call) are exported here; ``reference.naive`` holds the same functions as
plain loops. Arrays are NCHW; weights use PyTorch's layout (see each function's docstring).
"""

from reference.analysis import blueprint_factorize, pc1_explained_variance
from reference.conv2d import conv2d_backward, conv2d_forward
from reference.kernels import bsconv_s_kernel, bsconv_u_kernel, dsc_kernel
from reference.orthonormal import orthonormal_loss, orthonormal_loss_backward
from reference.separable import (
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
    "bsconv_u_kernel",
    "bsconv_s_kernel",
    "dsc_kernel",
    "pc1_explained_variance",
    "blueprint_factorize",
]
