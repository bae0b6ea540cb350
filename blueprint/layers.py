"""PyTorch BSConv layers: BSConv-U (Sec. 3.3.1), BSConv-S (Sec. 3.3.2) and DSC (Sec. 4.1).

The modules are ``nn.Sequential`` subclasses whose child names (``pw``, ``pw1``, ``pw2``, ``bn``,
``bn1``, ``bn2``, ``dw``) match the paper's official implementation, so its state_dicts
load unchanged.
"""

from __future__ import annotations

import math
import numbers

import torch
import torch.nn as nn

from blueprint import backend
from reference import checks


def _geometry(kernel_size, stride, padding, dilation):
    """Check the spatial arguments where the layer is built, not at its first forward.

    Returns ``(kernel_size, stride, padding, dilation)`` with padding an int pair or 'same'.
    """
    kernel_size = checks.int_pair("kernel_size", kernel_size, 1)
    stride = checks.int_pair("stride", stride, 1)
    dilation = checks.int_pair("dilation", dilation, 1)
    return kernel_size, stride, _padding(padding, kernel_size, stride), dilation


def _padding(padding, kernel_size, stride):
    """Accept an int, a pair, or 'same'/'valid'; 'same' needs stride 1 and an odd kernel."""
    if padding == "valid":
        return (0, 0)
    if isinstance(padding, str) and padding != "same":
        raise ValueError(f"padding: expected an int, a pair of ints, 'same' or 'valid', got {padding!r}")
    if padding != "same":
        return checks.int_pair("padding", padding, 0)
    if padding == "same":
        if any(k % 2 == 0 for k in kernel_size):
            raise ValueError(
                f"padding: 'same' needs an odd kernel_size so that the padding is symmetric, got {kernel_size}"
            )
        if stride != (1, 1):
            raise ValueError(f"padding: 'same' needs stride 1, got stride {stride!r}")
        return "same"


def _depthwise(channels, kernel_size, stride, padding, dilation, bias, padding_mode):
    return nn.Conv2d(
        channels,
        channels,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=channels,
        bias=bias,
        padding_mode=padding_mode,
    )


def _pointwise(in_channels, out_channels, bias=False):
    return nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=bias)


class BSConvU(nn.Sequential):
    """Unconstrained BSConv, Eq. (6)-(7): pointwise W (no bias), optional BatchNorm, depthwise blueprints B.

    Computes the same as a regular convolution with the kernel `F_m^(n) = w_{n,m} B^(n)` (Eq. 2).
    Children: ``pw`` (N, M, 1, 1), [``bn``], ``dw`` (N, 1, K, K) with the optional bias.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        padding_mode="zeros",
        with_bn=False,
        bn_kwargs=None,
    ):
        super().__init__()
        in_channels = checks.positive_int("in_channels", in_channels)
        out_channels = checks.positive_int("out_channels", out_channels)
        kernel_size, stride, padding, dilation = _geometry(kernel_size, stride, padding, dilation)
        self.add_module("pw", _pointwise(in_channels, out_channels))
        if with_bn:
            self.add_module("bn", nn.BatchNorm2d(out_channels, **(bn_kwargs or {})))
        self.add_module("dw", _depthwise(out_channels, kernel_size, stride, padding, dilation, bias, padding_mode))

    def forward(self, x):
        """One fused accel op under ``blueprint.use_backend("accel")`` when possible, else pw then dw."""
        if backend.fusable(self, x):
            return backend.bsconv_u(x, self.pw.weight, self.dw.weight, self.dw.bias, **backend.geometry(self.dw))
        return super().forward(x)


def subspace_channels(in_channels: int, p: float, min_mid_channels: int = 4) -> int:
    """M' = min(M, max(min_mid_channels, ceil(p * M))): Eq. (8)'s ceil(p M), kept between min_mid_channels and M.

    Eq. (8) itself is M' = ceil(p M); the floor of ``min_mid_channels`` (4, as in the authors' code) departs from
    it where ceil(p M) < 4, e.g. p = 1/6 and M = 16 give 4, not 3, so that narrow layers keep a subspace of
    a few channels. ``min_mid_channels=1`` gives Eq. (8) for every M.
    """
    if not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"p: expected a number, the subspace ratio in (0, 1], got {p!r}")
    if not 0.0 < p <= 1.0:
        raise ValueError(f"p: expected a subspace ratio in (0, 1], got {p!r}")
    min_mid_channels = checks.positive_int("min_mid_channels", min_mid_channels)
    return min(in_channels, max(min_mid_channels, math.ceil(p * in_channels)))


class BSConvS(nn.Sequential):
    """Subspace BSConv, Eq. (12)-(14): pointwise `W^B` to M' channels, pointwise `W^A` to N, depthwise blueprints.

    `W = W^A W^B` (Eq. 8) with M' = ``subspace_channels(M, p, min_mid_channels)``, which is Eq. (8)'s
    ceil(p M) except where that is below ``min_mid_channels`` (or above M). ``pw1`` holds `W^B` and is
    the weight regularized by the orthonormal loss, Eq. (9) (see ``orthonormal_weights``).
    Children: ``pw1`` (M', M, 1, 1), [``bn1``], ``pw2`` (N, M', 1, 1), [``bn2``], ``dw`` (N, 1, K, K).
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        padding_mode="zeros",
        p=0.25,
        min_mid_channels=4,
        with_bn=False,
        bn_kwargs=None,
    ):
        super().__init__()
        in_channels = checks.positive_int("in_channels", in_channels)
        out_channels = checks.positive_int("out_channels", out_channels)
        kernel_size, stride, padding, dilation = _geometry(kernel_size, stride, padding, dilation)
        mid_channels = subspace_channels(in_channels, p, min_mid_channels)
        self.add_module("pw1", _pointwise(in_channels, mid_channels))
        if with_bn:
            self.add_module("bn1", nn.BatchNorm2d(mid_channels, **(bn_kwargs or {})))
        self.add_module("pw2", _pointwise(mid_channels, out_channels))
        if with_bn:
            self.add_module("bn2", nn.BatchNorm2d(out_channels, **(bn_kwargs or {})))
        self.add_module("dw", _depthwise(out_channels, kernel_size, stride, padding, dilation, bias, padding_mode))

    def forward(self, x):
        """One fused accel op under ``blueprint.use_backend("accel")`` when possible, else pw1, pw2, dw."""
        if backend.fusable(self, x):
            return backend.bsconv_s(
                x, self.pw1.weight, self.pw2.weight, self.dw.weight, self.dw.bias, **backend.geometry(self.dw)
            )
        return super().forward(x)

    def orthonormal_weights(self) -> list[torch.Tensor]:
        """The `W^B` of Eq. (9): the first pointwise weight, (M', M, 1, 1)."""
        return [self.pw1.weight]


class DSConv(nn.Sequential):
    """Depthwise separable convolution (Sec. 4.1): depthwise (M, 1, K, K), then pointwise (N, M, 1, 1).

    Computes the same as a regular convolution with `F_m^(n) = w_{n,m} B'_m` (one 3-D blueprint `B'`
    shared by all filters). The optional bias sits on the pointwise step. Children: ``dw``, [``bn``], ``pw``.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias=True,
        padding_mode="zeros",
        with_bn=False,
        bn_kwargs=None,
    ):
        super().__init__()
        in_channels = checks.positive_int("in_channels", in_channels)
        out_channels = checks.positive_int("out_channels", out_channels)
        kernel_size, stride, padding, dilation = _geometry(kernel_size, stride, padding, dilation)
        self.add_module("dw", _depthwise(in_channels, kernel_size, stride, padding, dilation, False, padding_mode))
        if with_bn:
            self.add_module("bn", nn.BatchNorm2d(in_channels, **(bn_kwargs or {})))
        self.add_module("pw", _pointwise(in_channels, out_channels, bias=bias))

    def to_bsconv_u(self) -> BSConvU:
        """Sec. 4.1's reversal: a fresh ``BSConvU`` of the same geometry, pointwise (M -> N) first, then depthwise
        on the N output channels (`N K^2` depthwise weights instead of `M K^2`); the bias moves to the depthwise step,
        a BatchNorm between the steps stays there. ``blueprint.convert(..., reverse_dsc=True)`` calls this."""
        dw, pw = self.dw, self.pw
        return BSConvU(
            dw.in_channels,
            pw.out_channels,
            dw.kernel_size,
            stride=dw.stride,
            padding=dw.padding,
            dilation=dw.dilation,
            bias=pw.bias is not None,
            padding_mode=dw.padding_mode,
            with_bn="bn" in self._modules,
        )

    def forward(self, x):
        """One fused accel op under ``blueprint.use_backend("accel")`` when possible, else dw then pw."""
        if backend.fusable(self, x):
            return backend.dsc(x, self.dw.weight, self.pw.weight, self.pw.bias, **backend.geometry(self.dw))
        return super().forward(x)
