"""blueprint: Blueprint Separable Convolutions (Haase & Amthor, CVPR 2020) for PyTorch."""
from blueprint.layers import BSConvS, BSConvU, DSConv, subspace_channels

__all__ = ["BSConvU", "BSConvS", "DSConv", "subspace_channels"]
__version__ = "0.1.0"
