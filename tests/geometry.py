"""Hypothesis strategies for convolution geometry shared by the backend tests.

Shapes are tiny (the naive loops are the specification) and cover: kernel 1-5,
stride 1-3, padding 0-2, dilation 1-2, groups dividing M and N, odd and non-square sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class ConvCase:
    batch: int
    m: int
    n: int
    height: int
    width: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int = 1
    m_sub: int = 1

    def x(self, rng, dtype=np.float64):
        return rng.standard_normal((self.batch, self.m, self.height, self.width)).astype(dtype)

    def weights(self, rng, *shapes, dtype=np.float64):
        return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _side(draw, k, stride, padding, dilation):
    """An input size the dilated kernel fits into once padded (at least 1)."""
    span = dilation * (k - 1) + 1
    return max(1, span - 2 * padding) + draw(st.integers(0, 2 * stride + 1))


@st.composite
def conv_cases(draw, max_channels=6, grouped=True, max_kernel=5):
    """A geometry for conv2d (with groups) or for the separable ops (groups=1, plus m_sub for BSConv-S)."""
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    groups = draw(st.integers(1, 3)) if grouped else 1
    m = groups * draw(st.integers(1, max(1, max_channels // groups)))
    n = groups * draw(st.integers(1, max(1, max_channels // groups)))
    height = _side(draw, kernel[0], stride[0], padding[0], dilation[0])
    width = _side(draw, kernel[1], stride[1], padding[1], dilation[1])
    return ConvCase(
        batch=draw(st.integers(1, 2)),
        m=m,
        n=n,
        height=height,
        width=width,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        m_sub=draw(st.integers(1, m)),
    )


def contract_operands(op, case, rng, dtype=np.float64, with_bias=True):
    """The forward's array arguments of ``op`` in contract order (x first, bias last; bias None if not wanted)."""
    k, m, n, s = case.kernel, case.m, case.n, case.m_sub
    shapes = {
        "conv2d": [(n, m // case.groups, *k)],
        "dsc": [(m, 1, *k), (n, m, 1, 1)],
        "bsconv_u": [(n, m, 1, 1), (n, 1, *k)],
        "bsconv_s": [(s, m, 1, 1), (n, s, 1, 1), (n, 1, *k)],
    }[op]
    x = case.x(rng, dtype)
    weights = case.weights(rng, *shapes, dtype=dtype)
    bias = rng.standard_normal(n).astype(dtype) if with_bias else None
    return [x, *weights, bias]


seeds = st.integers(0, 2**32 - 1)
