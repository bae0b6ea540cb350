"""Input checks shared by every backend (``reference`` and ``accel``).

Each check raises where the input enters, as ``TypeError`` (wrong kind of object or dtype) or
``ValueError`` (wrong shape or value), with a message that names the argument, what it was and
what was expected. The kernels behind these checks may then assume well-formed input.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)


def float_array(name: str, a, ndim: int) -> np.ndarray:
    """Return ``a`` if it is a float32/float64 ndarray with ``ndim`` dimensions, else raise."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(a).__name__}")
    if a.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {a.shape} ({a.ndim} dimensions)")
    if 0 in a.shape:
        raise ValueError(f"{name}: expected every dimension >= 1, got shape {a.shape}")
    return a


def same_dtype(**arrays) -> np.dtype:
    """Return the common dtype of the given arrays (``None`` values skipped); raise if they differ."""
    present = {k: v for k, v in arrays.items() if v is not None}
    dtypes = {k: v.dtype for k, v in present.items()}
    first_name, first = next(iter(dtypes.items()))
    for k, d in dtypes.items():
        if d != first:
            raise TypeError(f"{k}: expected dtype {first} like {first_name}, got {d} (mixed dtypes are not allowed)")
    return first


def int_pair(name: str, value, minimum: int) -> tuple[int, int]:
    """Normalize an int or a pair of ints to a pair, each at least ``minimum``."""
    if isinstance(value, (numbers.Integral,)) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return pair


def positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
    return int(value)


def output_size(size: int, k: int, stride: int, padding: int, dilation: int) -> int:
    """H_out = floor((H + 2 P - D (K - 1) - 1) / S) + 1, the output-size formula of every conv here."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


class Geometry(NamedTuple):
    """The spatial geometry of one convolution, every value a (height, width) pair: what the kernels of
    ``reference`` and ``accel`` take instead of loose ints."""

    stride: tuple[int, int]  # S_h, S_w
    padding: tuple[int, int]  # P_h, P_w
    dilation: tuple[int, int]  # D_h, D_w
    out: tuple[int, int]  # H_out, W_out


def spatial_geometry(x_shape, k_shape, stride, padding, dilation, kernel_name: str):
    """Check stride/padding/dilation and that the (dilated) kernel fits the padded input.

    Returns the ``Geometry`` (stride, padding, dilation, (H_out, W_out)).
    """
    stride = int_pair("stride", stride, 1)
    padding = int_pair("padding", padding, 0)
    dilation = int_pair("dilation", dilation, 1)
    out = []
    for axis, (size, k) in enumerate(zip(x_shape, k_shape)):
        span = dilation[axis] * (k - 1) + 1
        padded = size + 2 * padding[axis]
        if span > padded:
            raise ValueError(
                f"{kernel_name}: kernel of size {tuple(k_shape)} (dilated span {span}) is larger than the "
                f"padded input {padded} along {'HW'[axis]} (input {tuple(x_shape)}, padding {padding}); "
                f"expected a kernel that fits"
            )
        out.append(output_size(size, k, stride[axis], padding[axis], dilation[axis]))
    return Geometry(stride, padding, dilation, tuple(out))


def bias(name: str, b, n: int) -> np.ndarray | None:
    if b is None:
        return None
    float_array(name, b, 1)
    if b.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},) (one per output channel), got {b.shape}")
    return b


def check_conv2d(x, w, b, stride, padding, dilation, groups):
    """Checks for ``conv2d_forward``. Returns ``(Geometry, groups)``."""
    float_array("x", x, 4)
    float_array("w", w, 4)
    same_dtype(x=x, w=w, b=b)
    groups = positive_int("groups", groups)
    m, n = x.shape[1], w.shape[0]
    if m % groups:
        raise ValueError(f"groups: expected a divisor of the input channels M={m}, got {groups}")
    if n % groups:
        raise ValueError(f"groups: expected a divisor of the output channels N={n} (w.shape[0]), got {groups}")
    if w.shape[1] != m // groups:
        raise ValueError(
            f"w: expected shape (N, M/groups, KH, KW) with M/groups={m // groups} (x has M={m}, groups={groups}), "
            f"got {w.shape}"
        )
    bias("b", b, n)
    return spatial_geometry(x.shape[2:], w.shape[2:], stride, padding, dilation, "w"), groups


def _pointwise(name: str, w, m_in: int, in_name: str) -> int:
    float_array(name, w, 4)
    if w.shape[2:] != (1, 1) or w.shape[1] != m_in:
        raise ValueError(f"{name}: expected shape (N, {m_in}, 1, 1) to match {in_name}, got {w.shape}")
    return w.shape[0]


def _depthwise(name: str, w, channels: int, what: str):
    float_array(name, w, 4)
    if w.shape[0] != channels or w.shape[1] != 1:
        raise ValueError(f"{name}: expected shape ({channels}, 1, K, K) ({what}), got {w.shape}")


def bsconv_u_weights(w_pw, w_dw, m=None) -> int:
    """W (N, M, 1, 1) and blueprints B (N, 1, K, K) of Eq. (2); returns N."""
    float_array("w_pw", w_pw, 4)
    n = _pointwise("w_pw", w_pw, w_pw.shape[1] if m is None else m, "the input channels M of x")
    _depthwise("w_dw", w_dw, n, "one blueprint per output channel N = w_pw.shape[0]")
    return n


def bsconv_s_weights(w_b, w_a, w_dw, m=None) -> int:
    """W^B (M', M, 1, 1), W^A (N, M', 1, 1) of Eq. (8) and blueprints (N, 1, K, K); returns N."""
    float_array("w_b", w_b, 4)
    m_sub = _pointwise("w_b", w_b, w_b.shape[1] if m is None else m, "the input channels M of x")
    n = _pointwise("w_a", w_a, m_sub, "the subspace size M' = w_b.shape[0]")
    _depthwise("w_dw", w_dw, n, "one blueprint per output channel N = w_a.shape[0]")
    return n


def dsc_weights(w_dw, w_pw, m=None) -> int:
    """Depthwise B' (M, 1, K, K) and pointwise W (N, M, 1, 1) of Sec. 4.1; returns N."""
    float_array("w_dw", w_dw, 4)
    m = w_dw.shape[0] if m is None else m
    _depthwise("w_dw", w_dw, m, "one K x K kernel per input channel M")
    return _pointwise("w_pw", w_pw, m, "the input channels M = w_dw.shape[0]")


def check_dsc(x, w_dw, w_pw, b, stride, padding, dilation):
    """Checks for ``dsc_forward``: depthwise (M, 1, K, K) then pointwise (N, M, 1, 1)."""
    float_array("x", x, 4)
    n = dsc_weights(w_dw, w_pw, x.shape[1])
    same_dtype(x=x, w_dw=w_dw, w_pw=w_pw, b=b)
    bias("b", b, n)
    return spatial_geometry(x.shape[2:], w_dw.shape[2:], stride, padding, dilation, "w_dw")


def check_bsconv_u(x, w_pw, w_dw, b, stride, padding, dilation):
    """Checks for ``bsconv_u_forward``: pointwise (N, M, 1, 1) then depthwise (N, 1, K, K)."""
    float_array("x", x, 4)
    n = bsconv_u_weights(w_pw, w_dw, x.shape[1])
    same_dtype(x=x, w_pw=w_pw, w_dw=w_dw, b=b)
    bias("b", b, n)
    return spatial_geometry(x.shape[2:], w_dw.shape[2:], stride, padding, dilation, "w_dw")


def check_bsconv_s(x, w_b, w_a, w_dw, b, stride, padding, dilation):
    """Checks for ``bsconv_s_forward``: W^B (M', M, 1, 1), W^A (N, M', 1, 1), blueprints (N, 1, K, K)."""
    float_array("x", x, 4)
    n = bsconv_s_weights(w_b, w_a, w_dw, x.shape[1])
    same_dtype(x=x, w_b=w_b, w_a=w_a, w_dw=w_dw, b=b)
    bias("b", b, n)
    return spatial_geometry(x.shape[2:], w_dw.shape[2:], stride, padding, dilation, "w_dw")


def check_cache(op: str, cache, size: int | None = None, weights: int | None = None, kind: type = tuple):
    """``cache`` if it is what ``op``'s forward returned as its cache: a ``kind`` (a tuple, or the backend's
    NamedTuple) of ``size`` entries (a NamedTuple's field count where None), its weights (the ``weights`` field, or a plain tuple's second entry) ``weights``
    arrays where given; else
    ``TypeError`` naming the argument, what it was and what was expected (a backward given another op's cache,
    or its own output, would otherwise fail inside with an unpacking or attribute error)."""
    size = len(kind._fields) if size is None else size
    fits = isinstance(cache, kind) and len(cache) == size
    if fits and weights is not None:
        held = cache.weights if hasattr(cache, "weights") else cache[1]
        fits = isinstance(held, tuple) and len(held) == weights
    if not fits:
        got = type(cache).__name__ + (f" of {len(cache)} entries" if isinstance(cache, tuple) else "")
        raise TypeError(
            f"cache: expected the cache that {op}_forward returned ({kind.__name__} of {size} entries), got {got}"
        )
    return cache


def check_grad(name: str, dy, expected_shape, dtype):
    float_array(name, dy, len(expected_shape))
    if dy.shape != tuple(expected_shape):
        raise ValueError(f"{name}: expected shape {tuple(expected_shape)} (the forward output), got {dy.shape}")
    if dy.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} like the forward output, got {dy.dtype}")
    return dy


def check_w_b(w_b):
    """W^B for Eq. (9): (M', M) or (M', M, 1, 1)."""
    if isinstance(w_b, np.ndarray) and w_b.ndim == 4:
        float_array("w_b", w_b, 4)
        if w_b.shape[2:] != (1, 1):
            raise ValueError(f"w_b: expected shape (M', M, 1, 1) or (M', M), got {w_b.shape}")
        return w_b
    return float_array("w_b", w_b, 2)
