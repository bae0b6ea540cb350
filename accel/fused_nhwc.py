"""Fused inference layers on channels-last activations: BSConv-U with its epilogue, and the 1 x 1 convolution.

Activations are (B, H, W, C) with C padded to whole tiles of 16 channels (``padded``), the padded channels
zero: a layer's packed weights are zero in the padded input and output places, so zeros stay zeros
through bias, residual and ReLU. The network's input may have any number of channels; a layer's output
always has ``padded(N)``. This is the layout of ``blueprint.inference``'s engine, which changes layout once
at the model's entry and exit instead of per layer.

- ``bsconv_u(x, layer, res, act)``: Eq. (6)-(7) in one pass (``accel.tiles.bsconv_u_kernel``): the pointwise
  output is computed a row at a time into a ring of (K - 1) D + 1 rows and consumed by the depthwise step
  while in cache; then + bias (a folded BatchNorm), + res (a residual), activation. Packed with ``w_proj``, each
  row of that output is multiplied at once by a 1 x 1 convolution (an inverted residual's projection), whose
  epilogue then takes the residual and the activation.
- ``dsc(x, layer, res, act, mid_act)``: Sec. 4.1's DSC in one pass (``accel.tiles.dsc_kernel``): a row of the
  depthwise output at a time, its activation, and at once its pointwise product.
- ``pointwise(x, layer, res, act)``: y = act(W x + b + res) with a stride (a projection shortcut).
- ``affine(x, s, t, act)``: y = act(x s + t) per channel, one pass (an eval-mode BatchNorm that ``fuse`` could
  not fold, before a padded convolution, and its ReLU).
- ``conv(x, layer, res, act)``: a regular convolution (Eq. 1: a stem, ResNet's 3 x 3 convolutions) with the same
  epilogue, a row of patches at a time through the pointwise tiles (``accel.tiles.conv_kernel``).

``pack_bsconv_u`` / ``pack_dsc`` / ``pack_pointwise`` / ``pack_conv`` check and pack the weights once
(``reference.checks``' rules), and each call checks the activation it is given against them.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from accel.tiles import TILE, TILE_PIXELS, affine_kernel, bsconv_u_kernel, conv_kernel, dsc_kernel, pointwise_kernel
from reference import checks

ACTIVATIONS = {None: 0, "relu": 1, "relu6": 2, "hswish": 3}  # the epilogues (accel.tiles.clamp)
BOUNDED = (None, "relu", "relu6")  # the ones ``affine`` takes (bounds, as the 3 x 3 depthwise tiles apply them)


def padded(channels: int) -> int:
    """Channels rounded up to whole tiles of 16."""
    return -(-channels // TILE) * TILE


def _vector(v, size, dtype):
    out = np.zeros(size, dtype=dtype)
    if v is not None:
        out[: v.shape[0]] = v
    return out


def _packed_pointwise(w, in_channels, dtype):
    """w (N, M, 1, 1) -> (NB, in_channels, 16), w[nb, m, n] = W[16 nb + n, m], zero elsewhere."""
    n, m = w.shape[:2]
    out = np.zeros((in_channels, padded(n)), dtype=dtype)  # M',Np
    out[:m, :n] = w[:, :, 0, 0].T
    return np.ascontiguousarray(out.reshape(in_channels, -1, TILE).transpose(1, 0, 2))


class FusedBSConvU(NamedTuple):
    """A BSConv-U layer packed for ``bsconv_u``: pointwise W and its bias, taps B^(n) as (KH, KW, Np), bias, and
    optionally a projection W2 after the depthwise step (an inverted residual's last 1 x 1 convolution)."""

    w: np.ndarray  # NB,M',16
    pw_bias: np.ndarray  # Np
    taps: np.ndarray  # KH,KW,Np
    bias: np.ndarray  # Np
    geometry: checks.Geometry  # stride, padding, dilation; its ``out`` is the probe's (each call computes its own)
    in_channels: int  # M' (the input's stored channels, M or padded(M))
    out_channels: int  # N, or N2 with a projection
    proj_w: np.ndarray  # NB2,Np,16; (0, Np, 16) without a projection
    proj_bias: np.ndarray  # Np2; (0,) without
    launches: dict  # (input shape, threads, geometry) -> _Launch, made at the first call with them


class _Launch(NamedTuple):
    """What a call of ``bsconv_u`` on one input shape and thread count hands the kernel besides the arrays: the
    task split and the taps and bias grouped for it (made once: at batch 1 the Python around the kernel took
    as long as the kernel)."""

    shape_out: tuple  # B,Ho,Wo,Np
    bands: int
    taps: np.ndarray  # G,KH,KW,C
    bias: np.ndarray  # G,C
    geometry: tuple  # (stride, padding, dilation) as plain pairs
    made_from: tuple  # the layer's taps, bias and projection it was made from (a layer._replace with others makes
    # its own: the projection decides the channel groups)


def _launch(layer: FusedBSConvU, shape: tuple, threads: int) -> _Launch:
    shape_out = output_shape(shape, layer)
    g = layer.geometry
    depth = (layer.taps.shape[0] - 1) * g.dilation[0] + 1
    bands = row_bands(shape[0], shape_out[1], threads, g.stride[0], depth)
    kh, kw, cp = layer.taps.shape
    # a projection needs all of a pixel's channels in one task
    groups = 1 if layer.proj_w.shape[0] else channel_groups(cp // TILE, shape[0] * bands, threads)
    taps = np.ascontiguousarray(layer.taps.reshape(kh, kw, groups, cp // groups).transpose(2, 0, 1, 3))  # G,KH,KW,C
    geometry = (g.stride, g.padding, g.dilation)
    made_from = (layer.taps, layer.bias, layer.proj_w)
    return _Launch(shape_out, bands, taps, layer.bias.reshape(groups, -1), geometry, made_from)


class FusedDSC(NamedTuple):
    """A DSC layer packed for ``dsc``: depthwise taps B' as (KH, KW, Mp) and their bias, pointwise W and its bias."""

    taps: np.ndarray  # KH,KW,Mp
    dw_bias: np.ndarray  # Mp
    w: np.ndarray  # NB,Mp,16
    bias: np.ndarray  # Np
    geometry: checks.Geometry  # as FusedBSConvU's
    in_channels: int  # the input's stored channels
    out_channels: int  # N


class FusedPointwise(NamedTuple):
    """A 1 x 1 convolution packed for ``pointwise``."""

    w: np.ndarray  # NB,M',16
    bias: np.ndarray  # Np
    stride: tuple
    in_channels: int
    out_channels: int


class FusedConv(NamedTuple):
    """A regular convolution packed for ``conv``: W as (NB, KH KW M', 16), row (i KW + j) M' + m, and its bias."""

    w: np.ndarray  # NB,KH KW M',16
    bias: np.ndarray  # Np
    geometry: checks.Geometry  # as FusedBSConvU's
    kernel: tuple  # KH, KW
    in_channels: int
    out_channels: int


def _probe(m, w_dw, dilation, dtype):
    """A placeholder input (1, m, span, span) of the dilated kernel's span, on which the reference's checks check the
    weights and geometry at packing time (each call checks its own input's size)."""
    d = checks.int_pair("dilation", dilation, 1)
    return np.zeros((1, m, *(di * (k - 1) + 1 for di, k in zip(d, np.shape(w_dw)[2:]))), dtype=dtype)


def pack_bsconv_u(
    w_pw, w_dw, pw_bias=None, bias=None, in_channels=None, stride=1, padding=0, dilation=1, w_proj=None, proj_bias=None
):
    """Pack BSConv-U's weights (the contract's layouts, float32 or float64) for inputs of ``in_channels`` stored
    channels (default M). Weights and geometry are checked as ``reference.bsconv_u_forward`` checks them, on a
    placeholder input of the dilated kernel's size. ``w_proj`` (N2, N, 1, 1) and ``proj_bias`` (N2,): a 1 x 1
    convolution after the depthwise step, computed in the same pass (an inverted residual's projection)."""
    w_pw, w_dw = np.asarray(w_pw), np.asarray(w_dw)
    n, m = w_pw.shape[0], w_pw.shape[1]
    in_channels = m if in_channels is None else in_channels
    if in_channels < m:
        raise ValueError(f"in_channels: expected at least the pointwise weights' {m} input channels, got {in_channels}")
    geometry = checks.check_bsconv_u(_probe(m, w_dw, dilation, w_pw.dtype), w_pw, w_dw, bias, stride, padding, dilation)
    if pw_bias is not None and np.shape(pw_bias) != (n,):
        raise ValueError(f"pw_bias: expected shape ({n},), got {np.shape(pw_bias)}")
    dtype, cp = w_pw.dtype, padded(n)
    taps = np.zeros((w_dw.shape[2], w_dw.shape[3], cp), dtype=dtype)  # KH,KW,Np
    taps[:, :, :n] = w_dw[:, 0].transpose(1, 2, 0)
    if w_proj is None:
        proj_w, proj_b, out_channels = np.zeros((0, cp, TILE), dtype=dtype), np.zeros(0, dtype=dtype), n
    else:
        w_proj = np.asarray(w_proj)
        if w_proj.ndim != 4 or w_proj.shape[1:] != (n, 1, 1) or w_proj.dtype != dtype:
            raise ValueError(f"w_proj: expected a {dtype} (N2, {n}, 1, 1) array, got {w_proj.dtype} {w_proj.shape}")
        out_channels = w_proj.shape[0]
        if proj_bias is not None and np.shape(proj_bias) != (out_channels,):
            raise ValueError(f"proj_bias: expected shape ({out_channels},), got {np.shape(proj_bias)}")
        proj_w, proj_b = _packed_pointwise(w_proj, cp, dtype), _vector(proj_bias, padded(out_channels), dtype)
    return FusedBSConvU(
        _packed_pointwise(w_pw, in_channels, dtype),
        _vector(pw_bias, cp, dtype),
        taps,
        _vector(bias, cp, dtype),
        geometry,
        in_channels,
        out_channels,
        proj_w,
        proj_b,
        {},
    )


def pack_dsc(w_dw, w_pw, dw_bias=None, bias=None, in_channels=None, stride=1, padding=0, dilation=1):
    """Pack a DSC's depthwise (M, 1, K, K) and pointwise (N, M, 1, 1) weights and biases (the contract's layouts)
    for inputs of ``in_channels`` stored channels (default M), checked as ``reference.dsc_forward`` checks them."""
    w_dw, w_pw = np.asarray(w_dw), np.asarray(w_pw)
    m = w_dw.shape[0]
    in_channels = m if in_channels is None else in_channels
    if in_channels < m:
        raise ValueError(f"in_channels: expected at least the depthwise weights' {m} channels, got {in_channels}")
    geometry = checks.check_dsc(_probe(m, w_dw, dilation, w_dw.dtype), w_dw, w_pw, bias, stride, padding, dilation)
    if dw_bias is not None and np.shape(dw_bias) != (m,):
        raise ValueError(f"dw_bias: expected shape ({m},), got {np.shape(dw_bias)}")
    dtype, mp, n = w_dw.dtype, padded(in_channels), w_pw.shape[0]
    taps = np.zeros((w_dw.shape[2], w_dw.shape[3], mp), dtype=dtype)  # KH,KW,Mp
    taps[:, :, :m] = w_dw[:, 0].transpose(1, 2, 0)
    return FusedDSC(
        taps,
        _vector(dw_bias, mp, dtype),
        _packed_pointwise(w_pw, mp, dtype),
        _vector(bias, padded(n), dtype),
        geometry,
        in_channels,
        n,
    )


def pack_pointwise(w, bias=None, in_channels=None, stride=1):
    """Pack a 1 x 1 convolution's weight (N, M, 1, 1) and bias (N,) for inputs of ``in_channels`` stored channels."""
    w = np.asarray(w)
    if w.ndim != 4 or w.shape[2:] != (1, 1):
        raise ValueError(f"w: expected a 1 x 1 convolution weight (N, M, 1, 1), got shape {w.shape}")
    n, m = w.shape[:2]
    in_channels = m if in_channels is None else in_channels
    if in_channels < m:
        raise ValueError(f"in_channels: expected at least the weight's {m} input channels, got {in_channels}")
    if bias is not None and np.shape(bias) != (n,):
        raise ValueError(f"bias: expected shape ({n},), got {np.shape(bias)}")
    stride = checks.int_pair("stride", stride, 1)
    return FusedPointwise(
        _packed_pointwise(w, in_channels, w.dtype), _vector(bias, padded(n), w.dtype), stride, in_channels, n
    )


def pack_conv(w, bias=None, in_channels=None, stride=1, padding=0, dilation=1):
    """Pack a regular convolution's weight (N, M, KH, KW) and bias (N,) (groups 1) for inputs of ``in_channels``
    stored channels (default M), checked as ``reference.conv2d_forward`` checks them."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"w: expected a convolution weight (N, M, KH, KW), got shape {w.shape}")
    n, m, kh, kw = w.shape
    in_channels = m if in_channels is None else in_channels
    if in_channels < m:
        raise ValueError(f"in_channels: expected at least the weight's {m} input channels, got {in_channels}")
    if bias is not None and np.shape(bias) != (n,):
        raise ValueError(f"bias: expected shape ({n},), got {np.shape(bias)}")
    geometry, _ = checks.check_conv2d(_probe(m, w, dilation, w.dtype), w, bias, stride, padding, dilation, 1)
    mat = np.zeros((kh, kw, in_channels, padded(n)), dtype=w.dtype)  # KH,KW,M',Np
    mat[:, :, :m, :n] = w.transpose(2, 3, 1, 0)
    packed = np.ascontiguousarray(mat.reshape(kh * kw * in_channels, -1, TILE).transpose(1, 0, 2))
    return FusedConv(packed, _vector(bias, padded(n), w.dtype), geometry, (kh, kw), in_channels, n)


def _output(out, shape, dtype):
    """``out`` if it is a C-contiguous array of ``shape`` and ``dtype`` (a buffer the caller reuses), else a new one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not (isinstance(out, np.ndarray) and out.shape == shape and out.dtype == dtype and out.flags.c_contiguous):
        raise ValueError(
            f"out: expected a C-contiguous {shape} {np.dtype(dtype)} array, got {getattr(out, 'shape', out)}"
        )
    return out


def _check_input(x, layer, res, shape_out):
    if not isinstance(x, np.ndarray) or x.ndim != 4 or x.shape[3] != layer.in_channels:
        raise ValueError(f"x: expected a (B, H, W, {layer.in_channels}) array, got {getattr(x, 'shape', type(x))}")
    if x.dtype != layer.w.dtype:
        raise TypeError(f"x: expected dtype {layer.w.dtype} like the packed weights, got {x.dtype}")
    if res is not None and (res.shape != shape_out or res.dtype != x.dtype):
        raise ValueError(f"res: expected a {shape_out} {x.dtype} array, got {res.shape} {res.dtype}")
    return np.ascontiguousarray(x), None if res is None else np.ascontiguousarray(res)


def _activation(act, name="act", bounded=False):
    """The kernels' code of ``act``; ``bounded``: one of ``BOUNDED``."""
    allowed = BOUNDED if bounded else tuple(ACTIVATIONS)
    if act not in allowed:
        raise ValueError(f"{name}: expected one of {list(allowed)}, got {act!r}")
    return ACTIVATIONS[act]


def output_shape(shape, layer) -> tuple:
    """The output shape of ``bsconv_u``, ``dsc``, ``pointwise`` or ``conv`` with ``layer`` on an input of ``shape``
    (B, H, W, C); the checks' error if the kernel does not fit (the arithmetic alone on the hot path, the full check
    when it fails)."""
    if len(shape) != 4:
        return ()
    if isinstance(layer, FusedPointwise):
        (sh, sw) = layer.stride
        return (shape[0], -(-shape[1] // sh), -(-shape[2] // sw), padded(layer.out_channels))
    conv = isinstance(layer, FusedConv)
    g, k = layer.geometry, layer.kernel if conv else layer.taps.shape[:2]
    out = [checks.output_size(shape[1 + a], k[a], g.stride[a], g.padding[a], g.dilation[a]) for a in (0, 1)]
    if not all(g.dilation[a] * (k[a] - 1) + 1 <= shape[1 + a] + 2 * g.padding[a] for a in (0, 1)):
        checks.spatial_geometry(shape[1:3], k, g.stride, g.padding, g.dilation, "w" if conv else "w_dw")  # raises
    return (shape[0], *out, padded(layer.out_channels))


OVERLAP_SHARE = 1 / 3  # a band may compute at most this share of its rows of V' again (those above its top edge)


def row_bands(batch: int, rows: int, threads: int, stride: int = 1, depth: int = 3) -> int:
    """Bands of output rows per image, so that small batches still give every thread tasks: about two tasks a
    thread, each band at least as tall as keeps the rows of V' it recomputes, (K - 1) D + 1 - S of them, within
    ``OVERLAP_SHARE`` of the S rows per output row it needs (four bands of a 7 x 7 plane computed V' 2.1 times
    over and ran 5x slower than one band on one thread: ImageNet MobileNetV1 BSConv-U at batch 1)."""
    if batch >= 2 * threads:
        return 1
    least = max(1, int(-(-max(depth - stride, 0) // (OVERLAP_SHARE * stride))))
    return max(1, min(-(-2 * threads // batch), rows // least))


PIXEL_BLOCK = 64  # the most pixels a task of the stride-1 pointwise kernel multiplies: 8 tiles of 8


def pixel_block(pixels: int, threads: int) -> int:
    """Pixels per task of the stride-1 pointwise kernel: whole 8-pixel tiles, at most ``PIXEL_BLOCK``, and few
    enough that the ``pixels`` give every thread two tasks where they can."""
    wanted = -(-pixels // (2 * threads))
    return min(PIXEL_BLOCK, max(TILE_PIXELS, -(-wanted // TILE_PIXELS) * TILE_PIXELS))


def channel_groups(tiles: int, tasks: int, threads: int) -> int:
    """Groups of channel tiles an image's output is split into when images and row bands give fewer than two
    tasks a thread (a 7 x 7 plane at batch 1): the largest divisor of ``tiles`` up to what fills the threads."""
    wanted = -(-2 * threads // tasks) if tasks < 2 * threads else 1
    return max(d for d in range(1, min(tiles, wanted) + 1) if tiles % d == 0)


def bsconv_u(x, layer: FusedBSConvU, res=None, act=None, mid_act=None, out=None, dw_act=None):
    """act(V' * B + bias + res), V' = mid_act(W x + pw_bias) (Eq. 6-7; mid_act None for BSConv-U, an inverted
    residual's expansion activation otherwise), fused: x (B, H, W, M') -> (B, Ho, Wo, padded(N)), written into
    ``out`` if given (an array of that shape and x's dtype that does not overlap x or res). A layer packed with a
    projection computes act(W2 dw_act(V' * B + bias) + proj_bias + res) -> (B, Ho, Wo, padded(N2)). Each activation
    is one of ``ACTIVATIONS``."""
    project = layer.proj_w.shape[0] > 0
    if dw_act is not None and not project:
        raise ValueError(f"dw_act: a layer without a projection (w_proj) has no second activation, got {dw_act!r}")
    key = (np.shape(x), numba.get_num_threads(), layer.geometry)
    launch = layer.launches.get(key)
    if launch is not None and not all(a is b for a, b in zip(launch.made_from, (layer.taps, layer.bias, layer.proj_w))):
        launch = None
    x, res = _check_input(x, layer, res, output_shape(key[0], layer) if launch is None else launch.shape_out)
    if launch is None:  # kept only for an input that passed the checks
        launch = layer.launches[key] = _launch(layer, *key[:2])
    y = _output(out, launch.shape_out, x.dtype)  # B,Ho,Wo,Np
    mid, go = _activation(mid_act, "mid_act"), launch
    after_dw, after_proj = (_activation(dw_act, "dw_act"), _activation(act)) if project else (_activation(act), 0)
    bsconv_u_kernel(
        x,
        layer.w,
        layer.pw_bias,
        go.taps,
        go.bias,
        res,
        mid,
        after_dw,
        go.geometry,
        go.bands,
        layer.proj_w,
        layer.proj_bias,
        after_proj,
        y,
    )
    return y


def dsc(x, layer: FusedDSC, res=None, act=None, mid_act=None, out=None):
    """act(W mid_act(x * B' + dw_bias) + bias + res) (Sec. 4.1's DSC with its two activations), fused: x (B, H, W,
    M') -> (B, Ho, Wo, padded(N)), written into ``out`` if given (as ``bsconv_u``); both activations of
    ``ACTIVATIONS``."""
    shape_out = output_shape(np.shape(x), layer)
    x, res = _check_input(x, layer, res, shape_out)
    if x.shape[3] != layer.taps.shape[2]:  # channels not a whole number of tiles: zero-padded to them
        x = np.concatenate([x, np.zeros((*x.shape[:3], layer.taps.shape[2] - x.shape[3]), dtype=x.dtype)], axis=3)
    y = _output(out, shape_out, x.dtype)  # B,Ho,Wo,Np
    g = layer.geometry
    depth = (layer.taps.shape[0] - 1) * g.dilation[0] + 1
    bands = row_bands(x.shape[0], shape_out[1], numba.get_num_threads(), g.stride[0], depth)
    mid, end = _activation(mid_act, "mid_act"), _activation(act)
    geometry = (g.stride, g.padding, g.dilation)
    dsc_kernel(x, layer.taps, layer.dw_bias, layer.w, layer.bias, res, mid, end, geometry, bands, y)
    return y


def pointwise(x, layer: FusedPointwise, res=None, act=None, out=None):
    """act(W x + bias + res) at stride S: x (B, H, W, M') -> (B, ceil(H / S), ceil(W / S), padded(N)), written into
    ``out`` if given (as ``bsconv_u``)."""
    shape_out = output_shape(np.shape(x), layer)
    x, res = _check_input(x, layer, res, shape_out)
    y = _output(out, shape_out, x.dtype)  # B,Ho,Wo,Np
    block = pixel_block(shape_out[0] * shape_out[1] * shape_out[2], numba.get_num_threads())
    pointwise_kernel(x, layer.w, layer.bias, res, _activation(act), layer.stride, block, y)
    return y


def conv(x, layer: FusedConv, res=None, act=None, out=None):
    """act(W * x + bias + res), a regular convolution (Eq. 1): x (B, H, W, M') -> (B, Ho, Wo, padded(N)), written
    into ``out`` if given (as ``bsconv_u``)."""
    shape_out = output_shape(np.shape(x), layer)
    x, res = _check_input(x, layer, res, shape_out)
    y = _output(out, shape_out, x.dtype)  # B,Ho,Wo,Np
    g = layer.geometry
    bands = row_bands(x.shape[0], shape_out[1], numba.get_num_threads(), depth=1)  # a band computes no row twice
    geometry = (g.stride, g.padding, g.dilation)
    conv_kernel(x, layer.w, layer.bias, res, _activation(act), geometry, layer.kernel, bands, y)
    return y


AFFINE_BLOCK = 256  # pixels a task of ``affine`` covers


def affine(x, s, t, act=None, out=None):
    """act(x s + t) per channel: x (B, H, W, C), s and t (C,) of x's dtype -> (B, H, W, C), written into ``out`` if
    given (as ``bsconv_u``; it may be x itself)."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        raise ValueError(f"x: expected a (B, H, W, C) array, got {getattr(x, 'shape', type(x))}")
    for name, v in (("s", s), ("t", t)):
        if not isinstance(v, np.ndarray) or v.shape != (x.shape[3],) or v.dtype != x.dtype:
            raise ValueError(f"{name}: expected a ({x.shape[3]},) {x.dtype} array, got {getattr(v, 'shape', v)}")
    x = np.ascontiguousarray(x)
    y = _output(out, x.shape, x.dtype)
    c = x.shape[3]
    affine_kernel(x.reshape(-1, c), s, t, _activation(act, bounded=True), AFFINE_BLOCK, y.reshape(-1, c))
    return y
