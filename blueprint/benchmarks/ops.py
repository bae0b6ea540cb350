"""The layers ``blueprint bench`` times: BSConv-U, BSConv-S and DSC on MobileNet-shaped inputs, and the
depthwise step of Eq. (7) alone (BSConv-U's: a K x K depthwise convolution on the N channels that its
pointwise step produced), whose speed is bound by memory traffic rather than arithmetic.

A ``Shape`` is (B, M, N, H, K, stride), with 'same' padding K // 2. ``runner`` gives, for one op of
``blueprint.menus.TIMED_OPS`` on one of its ``TIMED_BACKENDS``, the two closures that are timed: the forward
alone and forward + backward (the backward with a fixed upstream gradient dy). ``accel`` runs as the accel
backend of ``blueprint`` runs it: its pointwise products on PyTorch's BLAS (``blueprint.backend.torch_matmul``)
and its kernels on PyTorch's OpenMP threads (``blueprint.accel_threads``). ``accel-direct`` calls
``accel`` as a user does: ``import accel`` and its functions without a ``matmul`` argument, so that the
pointwise products run on accel's own ``accel.gemm.matmul`` (Numba's threads) and nothing else is set up.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from blueprint import accel_threads
from blueprint.backend import torch_matmul
from blueprint.layers import subspace_channels

SUBSPACE_RATIO = 0.25  # p of Eq. (8) for BSConv-S, with M' as BSConvS computes it


@dataclass(frozen=True)
class Shape:
    batch: int
    m: int
    n: int
    size: int
    k: int
    stride: int

    @property
    def padding(self) -> int:
        return self.k // 2

    @property
    def out_size(self) -> int:
        return (self.size + 2 * self.padding - self.k) // self.stride + 1

    @property
    def m_sub(self) -> int:
        return subspace_channels(self.m, SUBSPACE_RATIO)

    def label(self) -> str:
        return ",".join(str(v) for v in (self.batch, self.m, self.n, self.size, self.k, self.stride))


SHAPES = (
    Shape(16, 64, 64, 32, 3, 1),
    Shape(16, 128, 128, 16, 3, 1),
    Shape(8, 128, 256, 16, 3, 2),
    Shape(8, 256, 256, 8, 3, 1),
    Shape(4, 32, 64, 56, 3, 1),
)
QUICK_SHAPES = (Shape(2, 8, 8, 8, 3, 1), Shape(2, 8, 16, 8, 3, 2))


def weight_shapes(op: str, s: Shape) -> list[tuple]:
    """The weights in the order of the contract's signature (bias last)."""
    return {
        "bsconv_u": [(s.n, s.m, 1, 1), (s.n, 1, s.k, s.k)],
        "bsconv_s": [(s.m_sub, s.m, 1, 1), (s.n, s.m_sub, 1, 1), (s.n, 1, s.k, s.k)],
        "dsc": [(s.m, 1, s.k, s.k), (s.n, s.m, 1, 1)],
        "depthwise": [(s.n, 1, s.k, s.k)],
    }[op] + [(s.n,)]


def in_channels(op: str, s: Shape) -> int:
    """Channels of the op's input x: M, or N for the depthwise step (which follows BSConv-U's pointwise step)."""
    return s.n if op == "depthwise" else s.m


def forward_flops(op: str, s: Shape) -> float:
    """Multiply-adds x 2 of one forward pass (bias ignored); forward + backward counts three times this."""
    hw, out = s.size * s.size, s.out_size * s.out_size
    pointwise_in, depthwise = {
        "bsconv_u": (s.n * s.m, s.n),
        "bsconv_s": (s.m_sub * s.m + s.n * s.m_sub, s.n),
        "dsc": (0, s.m),
        "depthwise": (0, s.n),
    }[op]
    pointwise_out = s.n * s.m if op == "dsc" else 0
    return 2.0 * s.batch * (pointwise_in * hw + pointwise_out * out + depthwise * out * s.k * s.k)


def fewest_bytes(op: str, s: Shape, with_backward: bool) -> float:
    """The fewest bytes the float32 op can move, each array once: x and the weights read and y written
    (forward); the backward also reads dy, x and the weights again and writes dx and the weights' gradients.
    The depthwise step's weights are a few KiB beside its activations; its bound is memory traffic."""
    x = s.batch * in_channels(op, s) * s.size**2
    y = s.batch * s.n * s.out_size**2
    w = sum(math.prod(shape) for shape in weight_shapes(op, s))
    forward = x + w + y
    return 4.0 * (forward + (y + 2 * x + 2 * w if with_backward else 0))


def inputs(op: str, s: Shape, seed: int = 0):
    """float32 x, weights (bias last) and dy, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((s.batch, in_channels(op, s), s.size, s.size), dtype=np.float32)
    weights = [rng.standard_normal(shape, dtype=np.float32) for shape in weight_shapes(op, s)]
    dy = rng.standard_normal((s.batch, s.n, s.out_size, s.out_size), dtype=np.float32)
    return x, weights, dy


def _torch_op(op: str, s: Shape):
    """The op as a chain of torch convolutions, f(x, *weights, b) -> y."""
    if op == "bsconv_u":
        return lambda x, w_pw, w_dw, b: F.conv2d(F.conv2d(x, w_pw), w_dw, b, s.stride, s.padding, groups=s.n)
    if op == "bsconv_s":
        return lambda x, w_b, w_a, w_dw, b: F.conv2d(
            F.conv2d(F.conv2d(x, w_b), w_a), w_dw, b, s.stride, s.padding, groups=s.n
        )
    if op == "depthwise":
        return lambda x, w_dw, b: F.conv2d(x, w_dw, b, s.stride, s.padding, groups=s.n)
    return lambda x, w_dw, w_pw, b: F.conv2d(F.conv2d(x, w_dw, None, s.stride, s.padding, groups=s.m), w_pw, b)


def runner(backend: str, op: str, s: Shape):
    """``(forward, forward_backward)``: closures without arguments that run the op once on fixed inputs."""
    x, weights, dy = inputs(op, s)
    if backend == "torch":
        f = _torch_op(op, s)
        tensors = [torch.from_numpy(a).requires_grad_() for a in (x, *weights)]
        dy_t = torch.from_numpy(dy)

        def forward():
            with torch.no_grad():
                f(*tensors)

        def forward_backward():
            torch.autograd.grad(f(*tensors), tensors, dy_t)

        return forward, forward_backward
    if backend == "accel":
        module, extra = accel_threads.accel(), {"matmul": torch_matmul}
    else:  # reference or accel-direct: the package itself, its defaults
        module, extra = importlib.import_module(backend.removesuffix("-direct")), {}
    if op == "depthwise":  # conv2d with one group per channel; it takes no matmul
        fwd, bwd, extra = module.conv2d_forward, module.conv2d_backward, {"groups": s.n}
    else:
        fwd, bwd = getattr(module, f"{op}_forward"), getattr(module, f"{op}_backward")

    def forward():
        fwd(x, *weights, stride=s.stride, padding=s.padding, **extra)

    def forward_backward():
        _, cache = fwd(x, *weights, stride=s.stride, padding=s.padding, **extra)
        bwd(dy, cache)

    return forward, forward_backward
