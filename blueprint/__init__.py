"""blueprint: Blueprint Separable Convolutions (Haase & Amthor, CVPR 2020) for PyTorch.

The names below load their module (and PyTorch) on first use, so that ``import blueprint`` and the command
line's ``--help`` stay fast (PEP 562's module ``__getattr__``).
"""

from blueprint.lazy import lazy_exports

_HOMES = {
    "blueprint.layers": ("BSConvU", "BSConvS", "DSConv", "subspace_channels"),
    "blueprint.regularization": ("orthonormal_loss", "orthonormal_penalty", "mark_orthonormal", "regularized_weights"),
    "blueprint.conversion": ("convert", "ConversionReport"),
    "blueprint.fusion": ("fuse", "FusionReport"),
    "blueprint.inference": ("InferenceEngine",),
    "blueprint.recalibration": ("recalibrate_bn",),
    "blueprint.profiling": ("profile", "ModelProfile", "LayerProfile"),
    "blueprint.backend": ("use_backend", "set_backend", "get_backend"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _HOMES)
__version__ = "0.1.0"
