"""The accel inference engine: whole blocks of a fused model on accel's fused channels-last kernels.

    engine = blueprint.InferenceEngine(blueprint.fuse(model))   # plans once, packs the weights
    with torch.no_grad():
        logits = engine(x)                                       # x (B, C, H, W), float32 or float64

Planning walks the module tree once and turns each module it recognizes into a step on channels-last
activations (``accel.fused_nhwc``: channels padded to tiles of 16), everything else into a step that runs the
module itself on PyTorch:

- a BSConv-U (``pw`` then ``dw``, no BatchNorm left between them, as ``fuse`` leaves it) -> one fused step,
  Eq. (6)-(7) with the pointwise output in a ring of rows (``accel.tiles``);
- a BSConv-S (``pw1`` = W^B, ``pw2`` = W^A, ``dw``, as ``fuse`` leaves it where two pointwise steps cost fewer
  multiply-adds) -> one fused BSConv-U step with W = W^A W^B (Eq. 8) where that costs fewer multiply-adds on
  the padded tiles (M' = 4 pads to 16 channels), else a 1 x 1 step for W^B and a fused BSConv-U step for W^A;
- a 1 x 1 convolution followed by a depthwise one (an inverted residual's expansion and depthwise step) -> the
  same fused step, with the expansion's activation applied to the ring's rows; a stride-1 1 x 1 convolution after
  it (the projection) joins the same step, each row of the depthwise output multiplied by it at once;
- a depthwise convolution followed by a stride-1 1 x 1 one (a DSC, Sec. 4.1: MobileNetV1's units) -> one fused
  step, a row of the depthwise output at a time with its activation and at once its pointwise product;
- a 1 x 1 convolution (projection shortcuts, inverted residuals' projections) -> a pointwise step;
- any other dense convolution (groups 1, zero padding: a stem, ResNet's 3 x 3 convolutions) -> a conv step, a row
  of patches at a time through the pointwise tiles (a wide one on a large batch on PyTorch's convolution, which
  multiplies those faster: ``WIDE_CONV_CHANNELS``);
- a depthwise convolution that no 1 x 1 step before it takes (after a hard swish that stands alone, or a swish)
  -> a depthwise step on accel's channels-last depthwise kernel (``accel.nhwc``);
- ReLU/ReLU6 and hard swish -> the epilogue of the fused step before it (an affine step's: ReLU/ReLU6 only), or a
  one-pass step; swish -> a one-pass step of PyTorch's op on the channels-last array (each maps 0 to 0, so padded
  channels stay 0);
- the zoo's ``SEUnit`` (squeeze-excite) -> a step that takes the means, the two small products and the
  activations on PyTorch on (B, C) vectors and scales the channels-last activation in one pass;
- ``ConvBlock`` (conv, no BatchNorm left, any of those activations or none), ``nn.Sequential``, ``nn.Identity``, the
  zoo's ``StandardUnit`` (residual sum and ReLU in the last step's epilogue) and ``PreactUnit`` (its BatchNorm,
  which ``fuse`` cannot fold before a padded convolution, as a per-channel affine step), ``LinearBottleneck``
  and EfficientNet's and MnasNet's ``MBConv`` (squeeze-excite included), ``DSCUnit``, ``InitUnitSmall`` and
  ``BackboneClassifier``: planned through their children, nested sequences spliced so that the peepholes see
  across them.

The layout changes only where a recognized step follows a PyTorch one or the other way round: once at the
model's entry and once at its exit for a fully recognized backbone (the classifier runs on PyTorch). Each
kernel runs the images of the batch (or, for small batches, bands of an image's rows) as parallel tasks on
Numba's threads, as many as ``torch.get_num_threads()`` (``blueprint.accel_threads``). The engine computes what
the model computes: outputs equal eager PyTorch's to float32 rounding (``tests/test_inference.py``).
``blueprint bench latency`` times it as the ``accel`` runtime.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from blueprint import accel_threads
from blueprint.backend import geometry as conv_geometry
from blueprint.fusion import batchnorm_affine, merged_pointwise
from blueprint.layers import BSConvS, BSConvU
from blueprint.models.common import BackboneClassifier, ConvBlock, SEUnit
from blueprint.models.efficientnet import MBConv
from blueprint.models.mobilenet_v1 import DSCUnit
from blueprint.models.mobilenet_v2 import LinearBottleneck
from blueprint.models.resnet import InitUnitSmall, PreactUnit, StandardUnit
from reference.checks import spatial_geometry

ACTIVATIONS = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardswish: "hswish", nn.SiLU: "swish"}
# The activations a fused step and an affine one apply in their epilogues (accel.fused_nhwc's ACTIVATIONS, BOUNDED):
# a ConvBlock's activation is a step of its own where it is not one of these, and the peephole merges an activation
# step into the step before it where that step takes it. Each maps 0 to 0, so padded channels stay 0.
FUSED_ACTIVATIONS = ("relu", "relu6", "hswish")
EPILOGUE_ACTIVATIONS = ("relu", "relu6")
TORCH_ACTIVATIONS = {
    "relu": torch.relu,
    "relu6": lambda t: torch.clamp(t, 0, 6),
    "hswish": F.hardswish,
    "swish": F.silu,
}
OUT_OPS = {"hswish": torch.ops.aten.hardswish.out, "swish": torch.ops.aten.silu.out}


class Activation:
    """A tensor between steps, in whichever layout the last step left it: NCHW (a torch tensor) or channels-last
    (a NumPy array whose channels are padded to tiles of 16; ``channels`` are the real ones)."""

    def __init__(self, nchw: torch.Tensor | None = None, nhwc: np.ndarray | None = None, channels: int = 0):
        self.nchw, self.nhwc, self.channels = nchw, nhwc, channels

    def as_nchw(self) -> torch.Tensor:
        if self.nchw is None:
            self.nchw = torch.from_numpy(self.nhwc[..., : self.channels]).permute(0, 3, 1, 2).contiguous()
        return self.nchw

    def as_nhwc(self) -> np.ndarray:
        if self.nhwc is None:
            self.nhwc, self.channels = self.nchw.permute(0, 2, 3, 1).contiguous().numpy(), self.nchw.shape[1]
        return self.nhwc

    def padded_nhwc(self) -> np.ndarray:
        """Channels-last with the channels padded to tiles of 16 (what a residual added in an epilogue needs)."""
        a = self.as_nhwc()
        width = _fused().padded(self.channels)
        if a.shape[3] == width:
            return a
        out = np.zeros((*a.shape[:3], width), dtype=a.dtype)
        out[..., : a.shape[3]] = a
        return out


def _fused():
    return accel_threads.accel().fused_nhwc


class BufferPool:
    """Output arrays for the fused steps, reused from call to call: a fresh multi-MiB array per layer costs
    page faults (measured here: about a tenth of a ResNet-110 forward). ``empty`` hands out an array of the
    pool that nothing else references any more (no activation, view or tensor made from it), else a new one."""

    def __init__(self):
        self.arrays: dict[tuple, list] = {}

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        arrays = self.arrays.setdefault((shape, np.dtype(dtype)), [])
        for i in range(len(arrays)):
            if sys.getrefcount(arrays[i]) == 2:  # the list's reference and getrefcount's argument: free
                return arrays[i]
        arrays.append(np.empty(shape, dtype=dtype))
        return arrays[-1]


def _np(t):
    return None if t is None else t.detach().contiguous().numpy()


@dataclass
class TorchStep:
    """A module the engine does not recognize, run as it is on NCHW tensors."""

    module: nn.Module

    def run(self, a: Activation, res=None) -> Activation:
        return Activation(nchw=self.module(a.as_nchw()))


def _channel_vectors(cache: dict, a: Activation, make) -> tuple:
    """(s, t) for ``a``'s stored channels and dtype, made once by ``make(dtype)`` and zero-padded."""
    key = (a.nhwc.shape[3], a.nhwc.dtype)
    if key not in cache:
        cache[key] = tuple(np.pad(v, (0, key[0] - v.shape[0])) for v in make(a.nhwc.dtype))  # padded: 0
    return cache[key]


def _buffer_like(x: np.ndarray, pool) -> np.ndarray:
    """An array of x's shape and dtype for a step's output: from the engine's pool, or new without one."""
    return np.empty_like(x) if pool is None else pool.empty(x.shape, x.dtype)


def _affine_nhwc(a: Activation, s, t, act, pool) -> Activation:
    out = None if pool is None else pool.empty(a.nhwc.shape, a.nhwc.dtype)
    return Activation(nhwc=_fused().affine(a.nhwc, s, t, act, out=out), channels=a.channels)


@dataclass
class Elementwise:
    """An activation on its own, in whichever layout the activation is; channels-last, into a pool buffer: ReLU or
    ReLU6 in one pass of ``accel.fused_nhwc.affine``, hard swish or swish in one pass of PyTorch's op."""

    act: str
    vectors: dict = field(default_factory=dict)  # (stored channels, dtype) -> (ones, zeros)
    pool: BufferPool | None = None

    def run(self, a: Activation, res=None) -> Activation:
        if a.nhwc is None:
            return Activation(nchw=TORCH_ACTIVATIONS[self.act](a.as_nchw()))
        if self.act not in EPILOGUE_ACTIVATIONS:
            out = _buffer_like(a.nhwc, self.pool)
            OUT_OPS[self.act](torch.from_numpy(a.nhwc), out=torch.from_numpy(out))
            return Activation(nhwc=out, channels=a.channels)
        s, t = _channel_vectors(self.vectors, a, lambda d: (np.ones(a.channels, d), np.zeros(a.channels, d)))
        return _affine_nhwc(a, s, t, self.act, self.pool)


@dataclass
class SqueezeExcite:
    """The zoo's ``SEUnit``: x * excite(conv2(squeeze(conv1(mean of x over the plane)))). Channels-last, the means,
    the two small products and the activations on PyTorch on the (B, C) vectors, then x scaled per image and
    channel in one pass into a pool buffer (padded channels scaled by 0)."""

    module: nn.Module
    pool: BufferPool | None = None

    def run(self, a: Activation, res=None) -> Activation:
        if a.nhwc is None:
            return Activation(nchw=self.module(a.nchw))
        se, x = self.module, torch.from_numpy(a.nhwc)  # B,H,W,Cp
        s = x.mean(dim=(1, 2))[:, : a.channels]  # B,C
        s = se.activation1(F.linear(s, se.conv1.weight[:, :, 0, 0], se.conv1.bias))  # B,C': conv1 on a 1 x 1 plane
        s = se.activation2(F.linear(s, se.conv2.weight[:, :, 0, 0], se.conv2.bias))  # B,C
        scale = F.pad(s, (0, x.shape[3] - a.channels))[:, None, None, :]  # B,1,1,Cp
        out = _buffer_like(a.nhwc, self.pool)
        torch.mul(x, scale, out=torch.from_numpy(out))
        return Activation(nhwc=out, channels=a.channels)


@dataclass
class Affine:
    """An eval-mode BatchNorm that ``fuse`` could not fold (``y = s x + t`` per channel), then ReLU/ReLU6/none:
    channels-last, one pass of ``accel.fused_nhwc.affine`` into a pool buffer (as two NumPy passes into fresh
    arrays it took a quarter of WRN-40-8 BSConv-U's forward). s and t, zero-padded to the activation's stored
    channels, are made once per width and dtype."""

    module: nn.BatchNorm2d
    act: str | None = None
    vectors: dict = field(default_factory=dict)  # (stored channels, dtype) -> (s, t)
    pool: BufferPool | None = None

    def run(self, a: Activation, res=None) -> Activation:
        if a.nhwc is None:
            out = Activation(nchw=self.module(a.nchw))
            return Elementwise(self.act).run(out) if self.act else out
        made = lambda d: (v.detach().numpy().astype(d) for v in batchnorm_affine(self.module))  # noqa: E731
        s, t = _channel_vectors(self.vectors, a, made)
        return _affine_nhwc(a, s, t, self.act, self.pool)


# A dense convolution with at least this many input channels, on planes of at least this many pixels and a
# float32 batch of at least this many images, runs on PyTorch's convolution (oneDNN's: 320-390 GFLOP/s on wide
# 3 x 3 convolutions on two cores here, the tiles' patch rows 250-300; on 8 x 8 planes of 64 channels the two
# were level and ResNet-20 ran 6% slower with them on PyTorch, the layout changed around each; at batch 1 the
# tiles were faster on every shape measured).
WIDE_CONV_CHANNELS, WIDE_CONV_PIXELS, WIDE_CONV_BATCH = 48, 256, 8


@dataclass
class Fused:
    """A fused kernel step: BSConv-U (or expansion + depthwise), DSC (depthwise + 1 x 1), a 1 x 1 convolution or a
    regular one, with its epilogue.
    The weights are packed at the first call for the stored channels of the input it gets."""

    kind: str  # "bsconv_u", "dsc", "pointwise" or "conv": accel.fused_nhwc's op and its pack_ function
    weights: dict  # the pack function's arguments but in_channels
    act: str | None = None
    mid_act: str | None = None
    dw_act: str | None = None  # with a projection merged in (weights' w_proj): the depthwise step's activation
    packs: dict = field(default_factory=dict)
    pool: BufferPool | None = None  # the engine's, for the outputs
    conv: nn.Conv2d | None = None  # a dense convolution's module, for the batches it runs on PyTorch

    def run(self, a: Activation, res: Activation | None = None) -> Activation:
        if self.conv is not None and self._on_torch(a):
            y = self.conv(a.as_nchw())
            y = y if res is None else y + res.as_nchw()
            return Elementwise(self.act).run(Activation(nchw=y)) if self.act else Activation(nchw=y)
        x = a.as_nhwc()
        fused = _fused()
        layer = self.packs.get(x.shape[3])
        if layer is None:
            pack = getattr(fused, f"pack_{self.kind}")
            layer = self.packs[x.shape[3]] = pack(**self.weights, in_channels=x.shape[3])
        r = None if res is None else res.padded_nhwc()
        out = None if self.pool is None else self.pool.empty(fused.output_shape(x.shape, layer), x.dtype)
        if self.kind == "bsconv_u":
            y = fused.bsconv_u(x, layer, r, self.act, self.mid_act, out=out, dw_act=self.dw_act)
        elif self.kind == "dsc":
            y = fused.dsc(x, layer, r, self.act, self.mid_act, out=out)
        else:
            y = getattr(fused, self.kind)(x, layer, r, self.act, out=out)
        return Activation(nhwc=y, channels=layer.out_channels)

    def _on_torch(self, a: Activation) -> bool:
        """A wide dense convolution on large planes and a large float32 batch (``WIDE_CONV_CHANNELS``)."""
        t = a.nchw if a.nhwc is None else a.nhwc
        float32 = t.dtype == (torch.float32 if a.nhwc is None else np.float32)
        batch, pixels = t.shape[0], (t.shape[2] * t.shape[3] if a.nhwc is None else t.shape[1] * t.shape[2])
        wide = self.conv.in_channels >= WIDE_CONV_CHANNELS and pixels >= WIDE_CONV_PIXELS
        return float32 and wide and batch >= WIDE_CONV_BATCH


@dataclass
class Sequence:
    steps: list

    def run(self, a: Activation, res=None) -> Activation:
        for i, step in enumerate(self.steps):
            a = step.run(a, res if i == len(self.steps) - 1 else None)
        return a


@dataclass
class Residual:
    """act(body(x) + shortcut(x)), the sum and the activation in the body's last (fused) step's epilogue;
    shortcut None is the identity."""

    body: Sequence
    shortcut: object | None

    def run(self, a: Activation, res=None) -> Activation:
        skip = a if self.shortcut is None else self.shortcut.run(a)
        return self.body.run(a, skip)


@dataclass
class Preact:
    """A pre-activation unit: pre = act(BN(x)); body(pre) + (x, or projection(pre)), the sum in the body's last
    (fused) step's epilogue."""

    pre: object
    body: Sequence
    projection: object | None

    def run(self, a: Activation, res=None) -> Activation:
        pre = self.pre.run(a)
        return self.body.run(pre, a if self.projection is None else self.projection.run(pre))


def _is_depthwise(conv) -> bool:
    return type(conv) is nn.Conv2d and conv.groups == conv.in_channels == conv.out_channels and conv.groups > 1


def _is_pointwise(conv) -> bool:
    return (
        type(conv) is nn.Conv2d
        and conv.kernel_size == (1, 1)
        and conv.groups == 1
        and conv.padding in ((0, 0), "valid")
        and conv.dilation == (1, 1)
        and conv.padding_mode == "zeros"
    )


def _is_regular(conv) -> bool:
    """A dense convolution (groups 1) the fused ``conv`` step computes: zero padding, 'same' only where it is
    symmetric."""
    if type(conv) is not nn.Conv2d:
        return False
    symmetric = all(d * (k - 1) % 2 == 0 for d, k in zip(conv.dilation, conv.kernel_size))
    return conv.groups == 1 and conv.padding_mode == "zeros" and (conv.padding != "same" or symmetric)


def _conv_weights(conv: nn.Conv2d) -> dict:
    return {"w": _np(conv.weight), "bias": _np(conv.bias), **conv_geometry(conv)}


def _pointwise_weights(conv: nn.Conv2d) -> dict:
    return {"w": _np(conv.weight), "bias": _np(conv.bias), "stride": conv.stride}


def _bsconv_u_weights(pw: nn.Conv2d, dw: nn.Conv2d) -> dict:
    g = conv_geometry(dw)
    return {"w_pw": _np(pw.weight), "w_dw": _np(dw.weight), "pw_bias": _np(pw.bias), "bias": _np(dw.bias), **g}


@dataclass
class Depthwise:
    """A depthwise convolution (Eq. 7) not merged with the 1 x 1 convolution before it, then ReLU/ReLU6/none:
    on channels-last activations on accel's channels-last depthwise kernel (``accel.nhwc``, its weights
    zero-padded to the stored channels), on NCHW ones on PyTorch."""

    block: nn.Module  # the convolution and its activation, as PyTorch runs them
    conv: nn.Conv2d
    act: str | None
    padded: dict = field(default_factory=dict)  # (stored channels, dtype) -> (weights, bias)

    def run(self, a: Activation, res=None) -> Activation:
        if a.nhwc is None:
            return Activation(nchw=self.block(a.nchw))
        x = a.nhwc
        key = (x.shape[3], x.dtype)
        if key not in self.padded:
            w, b = _np(self.conv.weight).astype(x.dtype), _np(self.conv.bias)
            extra = key[0] - w.shape[0]
            b = np.zeros(w.shape[0], x.dtype) if b is None else b.astype(x.dtype)
            self.padded[key] = (np.pad(w, ((0, extra), (0, 0), (0, 0), (0, 0))), np.pad(b, (0, extra)))
        w, b = self.padded[key]
        g = conv_geometry(self.conv)
        geometry = spatial_geometry(x.shape[1:3], w.shape[2:], g["stride"], g["padding"], g["dilation"], "w_dw")
        y = accel_threads.accel().nhwc.depthwise_forward(x, w, b, geometry, channels_last_out=True)
        out = Activation(nhwc=y, channels=a.channels)
        return Elementwise(self.act).run(out) if self.act else out


def _activation_of(module) -> tuple[bool, str | None]:
    """(known, name) for an activation module or None."""
    if module is None or isinstance(module, nn.Identity):
        return True, None
    name = ACTIVATIONS.get(type(module))
    return name is not None, name


def _conv_block(block: ConvBlock):
    known, act = _activation_of(block.activation)
    if not known or not (block.bn is None or isinstance(block.bn, nn.Identity)):
        return TorchStep(block)
    if act not in EPILOGUE_ACTIVATIONS + (None,):  # the convolution's step, then the activation's own
        return Sequence([_conv_block_step(block.conv, None), Elementwise(act)])
    return _conv_block_step(block.conv, act, block)


def _conv_block_step(conv, act, block=None):
    """The step of a ConvBlock's convolution with the epilogue activation ``act``; ``block`` (the whole ConvBlock) is
    what a depthwise step or a step the engine does not know runs on PyTorch, else the convolution alone."""
    block = conv if block is None else block
    if isinstance(conv, BSConvU) and _plain_bsconv_u(conv):
        return Fused("bsconv_u", _bsconv_u_weights(conv.pw, conv.dw), act)
    if isinstance(conv, BSConvS) and _plain_bsconv_s(conv):
        steps = _bsconv_s(conv).steps
        steps[-1].act = act
        return Sequence(steps)
    if _is_pointwise(conv):
        return Fused("pointwise", _pointwise_weights(conv), act)
    if _is_depthwise(conv) and conv.padding_mode == "zeros":
        return Depthwise(block, conv, act)
    if _is_regular(conv):
        return Fused("conv", _conv_weights(conv), act, conv=conv)
    return TorchStep(block)


def _plain_bsconv_u(layer: BSConvU) -> bool:
    names = [n for n, _ in layer.named_children()]
    return (
        names == ["pw", "dw"]
        and _is_pointwise(layer.pw)
        and _is_depthwise(layer.dw)
        and layer.dw.padding_mode == "zeros"
    )


def _plain_bsconv_s(layer: BSConvS) -> bool:
    names = [n for n, _ in layer.named_children()]
    return (
        names == ["pw1", "pw2", "dw"]
        and _is_pointwise(layer.pw1)
        and layer.pw1.stride == (1, 1)
        and _is_pointwise(layer.pw2)
        and _is_depthwise(layer.dw)
        and layer.dw.padding_mode == "zeros"
    )


def _bsconv_s(layer: BSConvS) -> Sequence:
    """BSConv-S (Eq. 12-14) as fused steps: one BSConv-U step with W = W^A W^B (Eq. 8) if that costs no more
    multiply-adds a pixel on channels padded to tiles of 16, else W^B as a 1 x 1 step, then W^A and the depthwise
    step as a BSConv-U step."""
    m, mid, n = (_fused().padded(c) for c in (layer.pw1.in_channels, layer.pw1.out_channels, layer.dw.out_channels))
    if m * n <= mid * (m + n):
        return Sequence([Fused("bsconv_u", _bsconv_u_weights(merged_pointwise(layer.pw1, layer.pw2), layer.dw))])
    return Sequence(
        [Fused("pointwise", _pointwise_weights(layer.pw1)), Fused("bsconv_u", _bsconv_u_weights(layer.pw2, layer.dw))]
    )


def _merged(steps: list) -> list:
    """Peephole over a sequence: a stride-1 1 x 1 step then a depthwise one -> one fused step (its activation
    on the ring rows); that step, or a BSConv-U, then a stride-1 1 x 1 one -> the same step with the 1 x 1 as its
    projection, each row of the depthwise output multiplied at once (an inverted residual's three steps in one
    pass); a depthwise step then a stride-1 1 x 1 one -> one fused DSC step (the depthwise step's activation
    between the two); a fused step without activation then ReLU/ReLU6 -> the activation in its epilogue."""
    out = []
    for step in steps:
        last = out[-1] if out else None
        if isinstance(step, Depthwise) and _expansion(last):
            weights = {
                "w_pw": last.weights["w"],
                "pw_bias": last.weights["bias"],
                "w_dw": _np(step.conv.weight),
                "bias": _np(step.conv.bias),
                **conv_geometry(step.conv),
            }
            out[-1] = Fused("bsconv_u", weights, step.act, mid_act=last.act)
        elif _expansion(step) and isinstance(last, Fused) and last.kind == "bsconv_u" and "w_proj" not in last.weights:
            last.weights.update(w_proj=step.weights["w"], proj_bias=step.weights["bias"])
            last.dw_act, last.act = last.act, step.act
        elif _expansion(step) and isinstance(last, Depthwise):
            weights = {
                "w_dw": _np(last.conv.weight),
                "dw_bias": _np(last.conv.bias),
                "w_pw": step.weights["w"],
                "bias": step.weights["bias"],
                **conv_geometry(last.conv),
            }
            out[-1] = Fused("dsc", weights, step.act, mid_act=last.act)
        elif isinstance(step, Elementwise) and _takes_activation(last, step.act):
            last.act = step.act
        else:
            out.append(step)
    return out


def _takes_activation(step, act: str) -> bool:
    """Whether ``act`` can join ``step``'s epilogue: a fused step (``FUSED_ACTIVATIONS``) or an affine one
    (``EPILOGUE_ACTIVATIONS``) without an activation yet."""
    if not isinstance(step, (Fused, Affine)) or step.act is not None:
        return False
    return act in (FUSED_ACTIVATIONS if isinstance(step, Fused) else EPILOGUE_ACTIVATIONS)


def _expansion(step) -> bool:
    return isinstance(step, Fused) and step.kind == "pointwise" and tuple(step.weights["stride"]) == (1, 1)


def _sequence(children) -> Sequence:
    """The children's steps in order, a child's ``Sequence`` spliced in (so the peepholes see its steps), merged."""
    return Sequence(_merged([s for child in children for s in _spliced(plan(child))]))


def _spliced(step) -> list:
    """A step as the list of the steps it runs in turn: a ``Sequence``'s, its nested ones' spliced in."""
    return [s for inner in step.steps for s in _spliced(inner)] if isinstance(step, Sequence) else [step]


def _standard_unit(unit: StandardUnit):
    body = _sequence([unit.conv1, unit.conv2])
    last = body.steps[-1] if body.steps else None
    if not isinstance(last, Fused) or last.act is not None:
        return TorchStep(unit)
    last.act = "relu"  # relu(conv2(conv1(x)) + residual), the sum and the ReLU in conv2's epilogue
    return Residual(body, None if unit.projection is None else plan(unit.projection))


def _preact_unit(unit: PreactUnit):
    pre, body = _sequence([unit.bn, unit.relu]), _sequence([unit.conv1, unit.conv2])
    last = body.steps[-1] if body.steps else None
    if not isinstance(last, Fused) or last.act is not None:
        return TorchStep(unit)
    return Preact(pre, body, None if unit.projection is None else plan(unit.projection))


def _linear_bottleneck(unit: LinearBottleneck):
    body = _sequence([unit.conv1, unit.conv2, *([] if unit.se_unit is None else [unit.se_unit]), unit.conv3])
    if not isinstance(body.steps[-1], Fused) or body.steps[-1].act is not None:
        return TorchStep(unit)
    return Residual(body, None) if unit.use_res_skip else body


def _mbconv(unit: MBConv):
    """EfficientNet's and MnasNet's unit: [expand], depthwise, [squeeze-excite], project, the residual sum in the
    projection's epilogue (stochastic depth is the identity in eval mode; in training mode the unit runs on PyTorch)."""
    if unit.drop is not None and unit.drop.training:
        return TorchStep(unit)
    parts = [unit.expand, unit.depthwise, unit.se_unit, unit.project]
    body = _sequence([p for p in parts if p is not None])
    if not isinstance(body.steps[-1], Fused) or body.steps[-1].act is not None:
        return TorchStep(unit)
    return Residual(body, None) if unit.use_res_skip else body


def _own_forward(module, cls) -> bool:
    """``module``'s forward is ``cls``'s (a subclass that changes forward is not what the rule reads)."""
    return type(module).forward is cls.forward


def plan(module: nn.Module):
    """The step that computes ``module``'s forward (module docstring)."""
    if isinstance(module, nn.Identity):
        return Sequence([])
    if type(module) in ACTIVATIONS:
        return Elementwise(ACTIVATIONS[type(module)])
    if isinstance(module, BSConvU):
        return (
            Fused("bsconv_u", _bsconv_u_weights(module.pw, module.dw)) if _plain_bsconv_u(module) else TorchStep(module)
        )
    if isinstance(module, BSConvS):
        return _bsconv_s(module) if _plain_bsconv_s(module) else TorchStep(module)
    if type(module) is nn.Conv2d and _is_pointwise(module):
        return Fused("pointwise", _pointwise_weights(module))
    if _is_regular(module):
        return Fused("conv", _conv_weights(module), conv=module)
    if isinstance(module, ConvBlock) and _own_forward(module, ConvBlock):
        return _conv_block(module)
    if isinstance(module, nn.BatchNorm2d) and not module.training and module.running_mean is not None:
        return Affine(module)
    if isinstance(module, StandardUnit) and _own_forward(module, StandardUnit):
        return _standard_unit(module)
    if isinstance(module, PreactUnit) and _own_forward(module, PreactUnit):
        return _preact_unit(module)
    if isinstance(module, LinearBottleneck) and _own_forward(module, LinearBottleneck):
        return _linear_bottleneck(module)
    if isinstance(module, MBConv) and _own_forward(module, MBConv):
        return _mbconv(module)
    if isinstance(module, SEUnit) and _own_forward(module, SEUnit):
        return SqueezeExcite(module)
    if isinstance(module, DSCUnit) and _own_forward(module, DSCUnit):
        return _sequence([module.conv_dw, module.conv_pw])
    if isinstance(module, InitUnitSmall) and _own_forward(module, InitUnitSmall):
        return plan(module.conv)
    if isinstance(module, BackboneClassifier) and _own_forward(module, BackboneClassifier):
        return Sequence([plan(module.backbone), TorchStep(module.classifier)])
    if isinstance(module, nn.Sequential) and _own_forward(module, nn.Sequential):
        return _sequence(module.children())
    return TorchStep(module)


def _pooled_steps(step):
    """Every step of a plan that writes into the engine's buffer pool (fused kernels and channels-last
    elementwise steps)."""
    if isinstance(step, (Fused, Affine, Elementwise, SqueezeExcite)):
        yield step
    for child in getattr(step, "steps", None) or []:
        yield from _pooled_steps(child)
    for name in ("body", "shortcut", "pre", "projection"):
        if getattr(step, name, None) is not None:
            yield from _pooled_steps(getattr(step, name))


def steps_summary(step, depth: int = 0) -> list[str]:
    """One line per step of a plan (for ``InferenceEngine.summary``)."""
    pad = "  " * depth
    if isinstance(step, Sequence):
        return [line for s in step.steps for line in steps_summary(s, depth)]
    if isinstance(step, Residual):
        lines = [f"{pad}residual ({'identity' if step.shortcut is None else 'projection'} shortcut)"]
        return lines + steps_summary(step.body, depth + 1)
    if isinstance(step, Preact):
        lines = [f"{pad}pre-activation residual ({'identity' if step.projection is None else 'projection'} shortcut)"]
        return lines + steps_summary(step.pre, depth + 1) + steps_summary(step.body, depth + 1)
    if isinstance(step, Affine):
        return [f"{pad}batchnorm{', act ' + step.act if step.act else ''}"]
    if isinstance(step, Fused):
        acts = "".join(f", {k} {v}" for k, v in (("mid", step.mid_act), ("dw", step.dw_act), ("act", step.act)) if v)
        return [f"{pad}fused {step.kind}{' + projection' if 'w_proj' in step.weights else ''}{acts}"]
    if isinstance(step, Elementwise):
        return [f"{pad}{step.act}"]
    if isinstance(step, Depthwise):
        return [f"{pad}depthwise{', act ' + step.act if step.act else ''}"]
    if isinstance(step, SqueezeExcite):
        return [f"{pad}squeeze-excite"]
    return [f"{pad}torch {type(getattr(step, 'module', getattr(step, 'block', None))).__name__}"]


class InferenceEngine:
    """``model``'s forward on accel's fused kernels where it recognizes the blocks (module docstring); ``model``
    should be in eval mode and fused (``blueprint.fuse``), so that no BatchNorm stands between the steps."""

    def __init__(self, model: nn.Module):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        if model.training:
            raise ValueError("model: expected a model in eval mode (model.eval(), or blueprint.fuse(model))")
        self.model = model
        self.plan = plan(model)
        self.pool = BufferPool()
        for step in _pooled_steps(self.plan):
            step.pool = self.pool

    def summary(self) -> str:
        """The plan, one step a line: what runs fused and what on PyTorch."""
        return "\n".join(steps_summary(self.plan))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise ValueError(f"x: expected a (B, C, H, W) tensor, got {getattr(x, 'shape', type(x).__name__)}")
        if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"x: expected a float32 or float64 CPU tensor, got {x.dtype} on {x.device}")
        with torch.no_grad(), accel_threads.scope():
            return self.plan.run(Activation(nchw=x.contiguous())).as_nchw()
