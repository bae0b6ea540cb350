"""blueprint: Blueprint Separable Convolutions (Haase & Amthor, CVPR 2020) for PyTorch."""
from blueprint.conversion import ConversionReport, convert
from blueprint.layers import BSConvS, BSConvU, DSConv, subspace_channels
from blueprint.profiling import LayerProfile, ModelProfile, profile
from blueprint.regularization import mark_orthonormal, orthonormal_loss, orthonormal_penalty, regularized_weights

__all__ = [
    "BSConvU",
    "BSConvS",
    "DSConv",
    "subspace_channels",
    "orthonormal_loss",
    "orthonormal_penalty",
    "mark_orthonormal",
    "regularized_weights",
    "convert",
    "ConversionReport",
    "profile",
    "ModelProfile",
    "LayerProfile",
]
__version__ = "0.1.0"
