"""blueprint: Blueprint Separable Convolutions (Haase & Amthor, CVPR 2020) for PyTorch."""
from blueprint.backend import get_backend, set_backend, use_backend
from blueprint.conversion import ConversionReport, convert
from blueprint.fusion import FusionReport, fuse
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
    "fuse",
    "FusionReport",
    "profile",
    "ModelProfile",
    "LayerProfile",
    "use_backend",
    "set_backend",
    "get_backend",
]
__version__ = "0.1.0"
