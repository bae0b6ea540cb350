"""Parameters and FLOPs per layer and in total, measured with forward hooks on one forward pass.

The FLOP convention
-------------------
FLOPs here are **multiply-adds** (one multiplication plus one addition count as 1), for one forward pass of
the given input (a batch dimension B in ``input_size`` multiplies every count by B):

- ``nn.Conv1d/2d/3d``: (output elements) x (M / groups) x (kernel volume). A BSConv-U layer is thus
  `N H W M` (pointwise) + `N H W K^2` (depthwise) instead of `N H W M K^2` (Sec. 3.3.1).
- ``nn.ConvTranspose1d/2d/3d``: (input elements) x (N / groups) x (kernel volume).
- ``nn.Linear``: (output elements) x (in_features).
- Biases are not counted (an addition without a multiplication).
- Only with ``include_norm_act=True``: normalization layers (BatchNorm, GroupNorm, LayerNorm, InstanceNorm)
  count 1 per output element (in inference a normalization is one fused multiply-add per element), and
  activation modules (ReLU, ReLU6, Hardswish, SiLU, Sigmoid, ...) count 1 per output element.
- Pooling, dropout, and operations that are not modules (``F.relu`` or a residual ``+`` inside ``forward``) are
  not counted: hooks cannot see functional calls.

Parameters: a layer row counts the layer's own parameters; ``ModelProfile.params`` is the number of distinct
parameters of the whole model (a module called twice counts once there, but its FLOPs count per call).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from blueprint.backend import use_backend
from blueprint.tables import format_table

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_TRANSPOSES = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm, nn.LocalResponseNorm)
_ACTIVATIONS = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
)


@dataclass
class LayerProfile:
    """One call of one leaf module: its own parameter count, multiply-adds and output shape."""

    name: str
    kind: str
    params: int
    flops: int
    output_shape: tuple[int, ...]


@dataclass
class ModelProfile:
    """The per-layer rows of ``profile`` and the model's totals (see the module docstring for the convention)."""

    layers: list[LayerProfile] = field(default_factory=list)
    params: int = 0
    flops: int = 0

    def table(self) -> str:
        """A fixed-width text table: one row per layer call, then the totals."""
        header = ("layer", "kind", "output shape", "params", "MFLOPs")
        rows = [
            (
                layer.name,
                layer.kind,
                "x".join(map(str, layer.output_shape)),
                f"{layer.params:,}",
                f"{layer.flops / 1e6:.3f}",
            )
            for layer in self.layers
        ]
        total = ("total", "", "", f"{self.params:,}", f"{self.flops / 1e6:.3f}")
        return format_table(header, rows, align="<<<>>", footer=[total])


def layer_flops(module: nn.Module, inputs: tuple, output: torch.Tensor, include_norm_act: bool) -> int:
    """Multiply-adds of one call of a leaf module under the module docstring's convention."""
    if isinstance(module, _CONVS):
        per_output = module.in_channels // module.groups * math.prod(module.kernel_size)
        return output.numel() * per_output
    if isinstance(module, _CONV_TRANSPOSES):
        per_input = module.out_channels // module.groups * math.prod(module.kernel_size)
        return inputs[0].numel() * per_input
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if include_norm_act and isinstance(module, _NORMS + _ACTIVATIONS):
        return output.numel()
    return 0


def batched_size(input_size) -> tuple[int, ...]:
    """(C, H, W) -> (1, C, H, W); (B, C, H, W) as it is; anything else raises."""
    size = tuple(input_size) if isinstance(input_size, (tuple, list, torch.Size)) else None
    if size is None or len(size) not in (3, 4) or not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"input_size: expected (C, H, W) or (B, C, H, W) of positive ints, got {input_size!r}")
    return size if len(size) == 4 else (1, *size)


def available_bytes(device: torch.device) -> int | None:
    """Memory free for new tensors on ``device``: CUDA's free memory, else the host's ``MemAvailable`` (Linux),
    else its free physical pages; None where neither can be read."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def profile(model: nn.Module, input_size, include_norm_act: bool = False) -> ModelProfile:
    """Run ``model`` once on zeros of ``input_size`` ((C, H, W) or (B, C, H, W)) and count per leaf module.

    The model runs in eval mode under ``torch.no_grad`` (BatchNorm statistics are left untouched) and is
    put back into its previous mode afterwards. It runs on the torch backend whatever backend is in effect:
    a layer fused by ``use_backend("accel")`` would not call the leaf modules the count is taken from.
    An input size the model cannot take raises ``ValueError`` naming ``input_size``: one whose zeros alone would
    not fit into the free memory of the model's device (``available_bytes``) before anything is allocated, and
    one whose forward pass fails (a shape the layers refuse, or an allocation that fails) when it fails.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
    size = batched_size(input_size)
    first = next(model.parameters(), None)
    dtype = first.dtype if first is not None else torch.float32
    device = first.device if first is not None else torch.device("cpu")
    need, free = math.prod(size) * dtype.itemsize, available_bytes(device)
    if free is not None and need > free:
        raise ValueError(
            f"input_size: {size} in {dtype} takes {need / 2**30:,.2f} GiB, more than the "
            f"{free / 2**30:,.2f} GiB free on {device}; expected a smaller input"
        )
    result = ModelProfile(params=sum(p.numel() for p in model.parameters()))

    def hook(name):
        def record(module, inputs, output):
            if not isinstance(output, torch.Tensor):
                return
            flops = layer_flops(module, inputs, output, include_norm_act)
            params = sum(p.numel() for p in module.parameters(recurse=False))
            result.layers.append(LayerProfile(name, type(module).__name__, params, flops, tuple(output.shape)))
            result.flops += flops

        return record

    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(hook(n or type(m).__name__)) for n, m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad(), use_backend("torch"):
            model(torch.zeros(size, dtype=dtype, device=device))
    except RuntimeError as err:
        raise ValueError(
            f"input_size: the forward pass on {size} failed ({str(err).splitlines()[0]}); expected an input size "
            "the model accepts"
        ) from None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return result
