"""Building blocks shared by the model zoo: conv-BN-activation, the squeeze-excite unit, the classifier.

The blocks follow the paper's official implementation (zeiss-microscopy/BSConv) so that
parameter counts and ``state_dict`` keys agree with it: a ``ConvBlock`` has the children ``conv``,
``bn``, ``activation``; a ``Classifier`` is a 1x1 convolution with bias named ``conv``. Every model here
is a baseline of regular (and depthwise) convolutions; its BSConv variants are made from it afterwards by
the transforms of ``blueprint.models.variants``.
"""

from __future__ import annotations

from fractions import Fraction

import torch.nn as nn

__all__ = [
    "BackboneClassifier",
    "Classifier",
    "ConvBlock",
    "InvertedResidual",
    "SEUnit",
    "depthwise_block",
    "fraction_text",
    "make_activation",
    "ModelConfig",
    "num_params",
    "official_init",
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


def make_activation(name: str | None) -> nn.Module | None:
    """The activation module called ``name`` (relu, relu6, hswish, hsigmoid, swish, sigmoid), or None for None."""
    if name is None:
        return None
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)} or None, got {name!r}")
    return _ACTIVATIONS[name]()


def fraction_text(value: float) -> str:
    """The official code's fraction notation of a width or subspace ratio: 3/4 -> ``"3d4"``, 0.35 -> ``"7d20"``,
    1.0 -> ``"1"``: the XdY with the smallest Y whose ``float(X) / float(Y)`` is ``value`` (Y up to 100)."""
    exact = Fraction(value).limit_denominator(100)
    x, y = exact.numerator, exact.denominator
    if value <= 0 or float(x) / float(y) != value:
        raise ValueError(f"value: expected a positive fraction X/Y with Y <= 100, got {value!r}")
    return str(x) if y == 1 else f"{x}d{y}"


class ConvBlock(nn.Module):
    """KxK convolution (padding (K - 1) // 2 unless given), then optional BatchNorm, then optional activation.

    Children: conv, [bn], [activation]."""

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
    ):
        super().__init__()
        padding = (kernel_size - 1) // 2 if padding is None else padding  # "same" size at stride 1
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
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
    activation2 -- the official code's names. MobileNetV3 uses squeeze_channels = channels // 4, relu, hsigmoid.
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


class InvertedResidual(nn.Module):
    """What MobileNetV2/V3's ``LinearBottleneck`` and EfficientNet/MnasNet's ``MBConv`` are: expansion 1x1,
    depthwise KxK, [squeeze-excite], then a linear 1x1 ``projection`` (a ``ConvBlock`` without activation).

    Sec. 4.2: such a unit is a BSConv-S block shifted by one step; its projection is W^B, which
    ``variants.MarkProjections`` marks for the orthonormal loss of Eq. (9).
    """

    projection: ConvBlock


class Classifier(nn.Module):
    """The official implementation's head: a 1x1 convolution with bias on pooled features, flattened. Child: conv."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, num_classes, 1, bias=True)

    def forward(self, x):
        return self.conv(x).flatten(1)  # B,num_classes,1,1 -> B,num_classes


class BackboneClassifier(nn.Module):
    """A zoo model: ``classifier(backbone(x))``, B,C,H,W -> B,C',h,w (pooled: h = w = 1) -> B,num_classes.

    Subclasses fill ``backbone`` (an ``nn.Sequential``) and set ``classifier``; ``config`` is what built them.
    """

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.backbone = nn.Sequential()

    def forward(self, x):
        return self.classifier(self.backbone(x))


class ModelConfig:
    """Base of the zoo's frozen config dataclasses: ``build(num_classes)`` is ``model(config, num_classes)``,
    ``model`` the family's ``nn.Module`` class; subclasses define ``name``, the name the registry gives it."""

    model: type[nn.Module]

    def build(self, num_classes: int) -> nn.Module:
        return self.model(self, num_classes)


def official_init(backbone: nn.Module, classifier: Classifier) -> None:
    """The official code's initialization: Kaiming-uniform backbone convolutions with zero bias, Xavier-normal head.

    It initializes the baseline; the BSConv modules a variant swaps in afterwards keep PyTorch's default.
    """
    for module in backbone.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    nn.init.xavier_normal_(classifier.conv.weight, gain=1.0)


def scaled(channels: int, width: float) -> int:
    """``int(channels * width)``: the official implementation's width-multiplier rounding (towards zero)."""
    return int(channels * width)


def num_params(model: nn.Module) -> int:
    """The number of parameters of ``model`` (every tensor once)."""
    return sum(p.numel() for p in model.parameters())
