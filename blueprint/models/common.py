"""Building blocks shared by the model zoo: conv-BN-activation, the squeeze-excite unit, the classifier.

The blocks follow the paper's public reference implementation (zeiss-microscopy/BSConv) so that
parameter counts and ``state_dict`` keys agree with it: a ``ConvBlock`` has the children ``conv``,
``bn``, ``activation``; a ``Classifier`` is a 1x1 convolution with bias named ``conv``.

Where a model has a BSConv variant, the reference builds the baseline and then swaps convolutions
(its "replacer"): every ``nn.Conv2d`` with groups 1 and a 3x3 or 5x5 kernel becomes a BSConv-U or
BSConv-S module with the same geometry and bias; 1x1, 7x7 and grouped (depthwise) convolutions stay.
Here the swap happens at construction: ``conv2d(..., spec=ConvSpec(...))`` builds the module the
replacer would have left in that place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch.nn as nn

from blueprint.layers import BSConvS, BSConvU

__all__ = [
    "REGULAR",
    "REPLACED_KERNEL_SIZES",
    "Classifier",
    "ConvBlock",
    "ConvSpec",
    "SEUnit",
    "conv2d",
    "depthwise_block",
    "fraction",
    "make_activation",
    "num_params",
    "reference_init",
    "scaled",
]

_ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hswish": nn.Hardswish,  # x * relu6(x + 3) / 6
    "hsigmoid": nn.Hardsigmoid,  # relu6(x + 3) / 6
    "swish": nn.SiLU,  # x * sigmoid(x)
    "sigmoid": nn.Sigmoid,
}

# The kernel sizes the reference's replacer swaps for BSConv (groups == 1 only).
REPLACED_KERNEL_SIZES = ((3, 3), (5, 5))


def make_activation(name: str | None) -> nn.Module | None:
    """The activation module called ``name`` (relu, relu6, hswish, hsigmoid, swish, sigmoid), or None for None."""
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)} or None, got {name!r}")
    return _ACTIVATIONS[name]()


def fraction(text: str) -> float:
    """Parse the reference's fraction notation: ``"3d4"`` -> 3/4, ``"7d20"`` -> 0.35, ``"2"`` -> 2.0.

    The value is computed as ``float(X) / float(Y)``, exactly as the reference does, so that channel
    counts ``int(c * w)`` round the same way.
    """
    match = re.fullmatch(r"([0-9]+)(?:d([0-9]+))?", text)
    if match is None or (match.group(2) is not None and int(match.group(2)) == 0):
        raise ValueError(f"fraction: expected 'X' or 'XdY' with positive Y (e.g. '3d4'), got {text!r}")
    numerator, denominator = match.group(1), match.group(2) or "1"
    return float(numerator) / float(denominator)


@dataclass(frozen=True)
class ConvSpec:
    """Which convolution a model builds where the reference's replacer acts (groups 1, 3x3 or 5x5 kernel).

    ``kind``: ``"regular"`` (``nn.Conv2d``), ``"bsconvu"`` (Sec. 3.3.1) or ``"bsconvs"`` (Sec. 3.3.2,
    subspace ratio ``p``); ``with_bn``: BatchNorm inside the BSConv module (after each pointwise step).
    """

    kind: str = "regular"
    p: float | None = None
    with_bn: bool = False

    def __post_init__(self):
        if self.kind not in ("regular", "bsconvu", "bsconvs"):
            raise ValueError(f"kind: expected 'regular', 'bsconvu' or 'bsconvs', got {self.kind!r}")
        if (self.kind == "bsconvs") != (self.p is not None):
            raise ValueError(
                f"p: expected a subspace ratio exactly for kind 'bsconvs', got p={self.p!r} for {self.kind!r}"
            )
        if self.p is not None and not 0.0 < self.p <= 1.0:
            raise ValueError(f"p: expected a subspace ratio in (0, 1], got {self.p!r}")

    @classmethod
    def from_suffix(cls, suffix: str | None) -> "ConvSpec":
        """The spec of a model-name suffix as the reference's ResNets read it.

        ``None`` -> regular; ``"bsconvu"`` -> BSConv-U without inner BN; ``"bsconvs_pXdY"`` -> BSConv-S
        with p = X/Y and inner BN (the reference's ResNets use ``BSConvU_Replacer(with_bn=False)`` and
        ``BSConvS_Replacer(p, with_bn=True)``).
        """
        if suffix is None:
            return cls()
        if suffix == "bsconvu":
            return cls("bsconvu")
        match = re.fullmatch(r"bsconvs_p([0-9]+d[0-9]+)", suffix)
        if match is None:
            raise ValueError(f"suffix: expected None, 'bsconvu' or 'bsconvs_pXdY', got {suffix!r}")
        return cls("bsconvs", p=fraction(match.group(1)), with_bn=True)


REGULAR = ConvSpec()


def conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    padding: int | None = None,
    groups: int = 1,
    bias: bool = False,
    spec: ConvSpec = REGULAR,
) -> nn.Module:
    """A KxK convolution, or the BSConv module ``spec`` asks for when the replacer's rule applies.

    ``padding`` defaults to (K - 1) // 2 ("same" size at stride 1). Returns ``nn.Conv2d``,
    ``BSConvU`` (children pw, [bn], dw) or ``BSConvS`` (children pw1, [bn1], pw2, [bn2], dw).
    """
    padding = (kernel_size - 1) // 2 if padding is None else padding
    replaced = groups == 1 and (kernel_size, kernel_size) in REPLACED_KERNEL_SIZES
    geometry = dict(kernel_size=kernel_size, stride=stride, padding=padding, bias=bias)
    if spec.kind == "regular" or not replaced:
        return nn.Conv2d(in_channels, out_channels, groups=groups, **geometry)
    if spec.kind == "bsconvu":
        return BSConvU(in_channels, out_channels, with_bn=spec.with_bn, **geometry)
    return BSConvS(in_channels, out_channels, p=spec.p, with_bn=spec.with_bn, **geometry)


class ConvBlock(nn.Module):
    """Convolution, then optional BatchNorm, then optional activation. Children: conv, [bn], [activation]."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        bias: bool = False,
        use_bn: bool = True,
        activation: str | None = "relu",
        spec: ConvSpec = REGULAR,
    ):
        super().__init__()
        self.conv = conv2d(in_channels, out_channels, kernel_size, stride, padding, groups, bias, spec)
        self.bn = nn.BatchNorm2d(out_channels) if use_bn else None
        self.activation = make_activation(activation)

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.activation is not None:
            x = self.activation(x)
        return x


def depthwise_block(channels: int, kernel_size: int, stride: int = 1, activation: str | None = "relu") -> ConvBlock:
    """Depthwise KxK convolution (groups = channels, no bias), BatchNorm, activation."""
    return ConvBlock(channels, channels, kernel_size, stride=stride, groups=channels, activation=activation)


class SEUnit(nn.Module):
    """Squeeze-and-excitation: x * excite(conv2(squeeze(conv1(avgpool(x))))), 1x1 convolutions with bias.

    Children: pool, conv1 (squeeze_channels, channels), activation1, conv2 (channels, squeeze_channels),
    activation2 -- the reference's names. MobileNetV3 uses squeeze_channels = channels // 4, relu, hsigmoid.
    """

    def __init__(self, channels: int, squeeze_channels: int, squeeze_activation="relu", excite_activation="hsigmoid"):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = nn.Conv2d(channels, squeeze_channels, 1, bias=True)
        self.activation1 = make_activation(squeeze_activation)
        self.conv2 = nn.Conv2d(squeeze_channels, channels, 1, bias=True)
        self.activation2 = make_activation(excite_activation)

    def forward(self, x):
        s = self.pool(x)  # B,C,1,1
        s = self.activation1(self.conv1(s))  # B,C',1,1
        s = self.activation2(self.conv2(s))  # B,C,1,1
        return x * s


class Classifier(nn.Module):
    """The reference's head: a 1x1 convolution with bias on pooled features, flattened. Child: conv."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 1, bias=True)

    def forward(self, x):
        return self.conv(x).flatten(1)  # B,num_classes,1,1 -> B,num_classes


def reference_init(backbone: nn.Module, classifier: Classifier) -> None:
    """The reference's initialization: Kaiming-uniform backbone convolutions with zero bias, Xavier-normal head.

    The reference initializes the baseline and swaps in BSConv modules afterwards, so convolutions inside
    ``BSConvU``/``BSConvS`` keep PyTorch's default initialization here too.
    """
    inside_bsconv = {id(m) for b in backbone.modules() if isinstance(b, (BSConvU, BSConvS)) for m in b.modules()}
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d) and id(module) not in inside_bsconv:
            nn.init.kaiming_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    nn.init.xavier_normal_(classifier.conv.weight, gain=1.0)


def scaled(channels: int, width: float) -> int:
    """``int(channels * width)``: the reference's width-multiplier rounding (towards zero)."""
    return int(channels * width)


def num_params(model: nn.Module) -> int:
    """The number of parameters of ``model`` (every tensor once)."""
    return sum(p.numel() for p in model.parameters())
