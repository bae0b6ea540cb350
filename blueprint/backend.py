"""Run the BSConv layers on the ``accel`` kernels: a ``torch.autograd.Function`` per op.

Choosing the backend::

    with blueprint.use_backend("accel"):     # a block (also usable as a decorator)
        loss = model(x).sum(); loss.backward()

    blueprint.set_backend("accel")           # or from here on (in this thread / context)

Under ``"accel"`` a ``BSConvU``, ``BSConvS`` or ``DSConv`` layer runs its whole chain in one accel
forward and one accel backward when it can (``fusable``): a CPU float32/float64 input, parameters of
the same device and dtype, no BatchNorm between the steps, no bias but on the last step (``fuse`` puts
one on a pointwise step), ``padding_mode="zeros"``, and no torch.compile,
TorchScript tracing or ONNX export in progress. Otherwise it runs its ordinary ``nn.Sequential`` forward, so
switching the backend never changes what a model computes, only how. The default is ``"torch"``.

An op's output keeps the input's memory format, as PyTorch's convolutions do. A channels-last input
(``x.to(memory_format=torch.channels_last)``) runs on accel's channels-last path (``accel.separable``'s
``channels_last``), read without a copy, and gives a channels-last output: so a model fed channels-last passes
its activations from layer to layer, through PyTorch's BatchNorm, ReLU and sums too, in that layout with no
layout change (``blueprint train --channels-last`` feeds it so). An NCHW input runs on the NCHW contract.

The functional ops ``bsconv_u``, ``bsconv_s`` and ``dsc`` take tensors with the reference contract's
weight layouts and always use accel. Each Function converts tensors to NumPy without copying
(``Tensor.numpy()`` shares memory), keeps accel's own cache for the backward, and is differentiable
once (no double backward). Modifying the input or a weight in place between the forward and the
backward raises autograd's usual error, as on the torch backend.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable

from blueprint import accel_threads
from blueprint.menus import LAYER_BACKENDS as BACKENDS  # the names use_backend accepts

_backend = contextvars.ContextVar("blueprint_backend", default="torch")


def _check_name(name):
    if name not in BACKENDS:
        raise ValueError(f"backend: expected one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def get_backend() -> str:
    """The backend in effect here: ``"torch"`` (default) or ``"accel"``."""
    return _backend.get()


def set_backend(name: str) -> None:
    """Use ``name`` from now on in the current thread (context)."""
    _backend.set(_check_name(name))


@contextlib.contextmanager
def use_backend(name: str):
    """Use ``name`` inside the ``with`` block (or the decorated function), then restore the previous one."""
    token = _backend.set(_check_name(name))
    try:
        yield
    finally:
        _backend.reset(token)


def _np(t):
    return None if t is None else t.detach().contiguous().numpy()


def _t(a):
    return None if a is None else torch.from_numpy(a)


def _channels_last_array(t):
    """A 4-D tensor (B, C, H, W) as a C-contiguous NumPy array (B, H, W, C): a view of a channels-last tensor,
    else a copy."""
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def _from_channels_last(a):
    """A (B, H, W, C) array as a channels-last (B, C, H, W) tensor sharing its memory."""
    return torch.from_numpy(a).permute(0, 3, 1, 2)


def _is_channels_last(t):
    """Whether t's memory is channels-last (and not also NCHW-contiguous, as a 1 x 1 plane or one channel is)."""
    return t.is_contiguous(memory_format=torch.channels_last) and not t.is_contiguous()


def torch_matmul(a, b):
    """a @ b for NumPy matrices (transposed views too) on PyTorch's BLAS: the accel backend's pointwise products
    run in the library, and on the OpenMP threads, that the torch backend's run on (``blueprint.accel_threads``)."""
    return torch.mm(torch.from_numpy(a), torch.from_numpy(b)).numpy()


def _accel_op(name: str):
    """accel's function ``name``, with the process set up for it by ``blueprint.accel_threads`` (on first use)."""
    return getattr(accel_threads.accel(), name)


class _Separable(torch.autograd.Function):
    """One accel op as an autograd node: forward(op, x, *weights, b, stride, padding, dilation)."""

    @staticmethod
    def forward(ctx, op, x, *args):
        *weights, b, stride, padding, dilation = args
        channels_last = _is_channels_last(x)
        with accel_threads.scope():
            y, cache = _accel_op(f"{op}_forward")(
                _channels_last_array(x) if channels_last else _np(x),
                *map(_np, weights),
                _np(b),
                stride=stride,
                padding=padding,
                dilation=dilation,
                matmul=torch_matmul,
                channels_last=channels_last,
            )
        ctx.op, ctx.cache = op, cache
        ctx.save_for_backward(x, *weights)  # accel's cache shares their memory: let autograd see in-place edits
        return _from_channels_last(y) if channels_last else torch.from_numpy(y)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        ctx.saved_tensors  # raises if x or a weight was modified in place since the forward
        channels_last = ctx.cache.channels_last
        with accel_threads.scope():
            dx, *grads = _accel_op(f"{ctx.op}_backward")(
                _channels_last_array(dy) if channels_last else _np(dy), ctx.cache
            )
        return (
            None,
            _from_channels_last(dx) if channels_last else torch.from_numpy(dx),
            *map(_t, grads),
            None,
            None,
            None,
        )


def _apply(op: str, x, *args):
    """``_Separable`` on x (B, M, H, W), or on an unbatched x (M, H, W) as a batch of one, as ``nn.Conv2d`` takes it."""
    if x.dim() == 3:
        return _Separable.apply(op, x.unsqueeze(0), *args).squeeze(0)  # M,H,W -> 1,M,H,W -> N,H',W'
    return _Separable.apply(op, x, *args)


def bsconv_u(x, w_pw, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (6)-(7) on accel: x (B, M, H, W) or (M, H, W), w_pw (N, M, 1, 1), w_dw (N, 1, K, K), b (N,) or None."""
    return _apply("bsconv_u", x, w_pw, w_dw, b, stride, padding, dilation)


def bsconv_s(x, w_b, w_a, w_dw, b=None, stride=1, padding=0, dilation=1):
    """Eq. (12)-(14) on accel: w_b (M', M, 1, 1), w_a (N, M', 1, 1), w_dw (N, 1, K, K), b (N,) or None."""
    return _apply("bsconv_s", x, w_b, w_a, w_dw, b, stride, padding, dilation)


def dsc(x, w_dw, w_pw, b=None, stride=1, padding=0, dilation=1):
    """Sec. 4.1 on accel: w_dw (M, 1, K, K), w_pw (N, M, 1, 1), b (N,) or None."""
    return _apply("dsc", x, w_dw, w_pw, b, stride, padding, dilation)


def fusable(layer: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``layer`` should run on accel now (see the module docstring for the conditions).

    Under ``torch.compile`` the answer is no before the backend is read: dynamo cannot trace a ``ContextVar``
    (each layer would break the graph) nor Numba's dispatcher, so a compiled model is one graph of torch ops.
    """
    if torch.compiler.is_compiling():
        return False
    if _backend.get() != "accel" or torch.jit.is_tracing() or torch.jit.is_scripting():
        return False
    if torch.onnx.is_in_onnx_export() or x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    children = list(layer.children())
    if not all(type(c) is nn.Conv2d and c.padding_mode == "zeros" for c in children):
        return False
    if any(c.bias is not None for c in children[:-1]):  # accel takes the last step's bias only (after fuse)
        return False
    return all(p.device == x.device and p.dtype == x.dtype for p in layer.parameters())


def geometry(conv: nn.Conv2d) -> dict:
    """stride, padding and dilation of the spatial convolution, with 'same' resolved to numbers."""
    padding = conv.padding
    if padding == "same":
        padding = tuple(d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size))
    return {"stride": conv.stride, "padding": padding, "dilation": conv.dilation}
