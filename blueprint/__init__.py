"""blueprint: Blueprint Separable Convolutions (Haase & Amthor, CVPR 2020) for PyTorch.

The names below load their module (and PyTorch) on first use, so that ``import blueprint`` and the command
line's ``--help`` stay fast (PEP 562's module ``__getattr__``).
"""
import importlib

_HOMES = {
    "blueprint.layers": ("BSConvU", "BSConvS", "DSConv", "subspace_channels"),
    "blueprint.regularization": ("orthonormal_loss", "orthonormal_penalty", "mark_orthonormal", "regularized_weights"),
    "blueprint.conversion": ("convert", "ConversionReport"),
    "blueprint.fusion": ("fuse", "FusionReport"),
    "blueprint.profiling": ("profile", "ModelProfile", "LayerProfile"),
    "blueprint.backend": ("use_backend", "set_backend", "get_backend"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = list(_HOME_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _HOME_OF:
        raise AttributeError(f"module 'blueprint' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
