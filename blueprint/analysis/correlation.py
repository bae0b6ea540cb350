"""Sec. 3.1's intra-kernel correlation analysis of a trained CNN, grouped by stage.

For every regular convolution filter F^(n) (M x K x K) the M depth slices are PCA samples; the statistic is
the fraction of their variance explained by the first principal component
(``reference.pc1_explained_variance``): 1 means all slices are one blueprint up to scale (Eq. 2).

Which layers: every ``nn.Conv2d`` (or 4-D ``*weight`` of a state_dict) with a kernel larger than 1x1 and at
least 2 slices per filter (M / groups >= 2). Pointwise and depthwise convolutions have no slices to compare.

What a stage is: the paper groups filters by "convolution stages", the blocks of layers working at one
spatial resolution. With a module we run one forward pass on zeros of ``input_size`` and number the
distinct output resolutions of the analyzed convolutions from the largest (stage 1) down
(``stage_by="resolution"``). A bare state_dict cannot run, so there we number the distinct output
channel counts from the smallest up (``stage_by="width"``), which gives the same stages for VGG- and
ResNet-style networks whose width doubles when the resolution halves. Convolutions the forward pass never
calls are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

import reference
from blueprint.profiling import batched_size
from blueprint.progress import progress
from blueprint.tables import format_table

STAGE_BY = ("resolution", "width")


@dataclass
class LayerPC1:
    """One analyzed convolution: its weight (N, M/groups, KH, KW), its stage and the per-filter statistic (N,)."""

    name: str
    weight: np.ndarray
    stage: int
    explained: np.ndarray


@dataclass
class KernelCorrelations:
    """The result of ``analyze_kernels``: analyzed layers in network order and a label per stage."""

    layers: list[LayerPC1]
    stage_labels: dict[int, str]
    stage_by: str

    def by_stage(self) -> dict[int, np.ndarray]:
        """Stage -> the PC1 explained variance of all its filters."""
        return {
            s: np.concatenate([layer.explained for layer in self.layers if layer.stage == s]) for s in self.stage_labels
        }

    def layer(self, name: str) -> LayerPC1:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"layer: expected one of the analyzed layers {[layer.name for layer in self.layers]}, got {name!r}"
        )

    def table(self) -> str:
        """Mean and median PC1 explained variance (in %) per stage and over all filters."""
        header = ("stage", "layers", "filters", "mean PC1 %", "median PC1 %")
        rows = []
        for s, values in self.by_stage().items():
            n_layers = sum(layer.stage == s for layer in self.layers)
            rows.append((self.stage_labels[s], str(n_layers), str(values.size), *_mean_median(values)))
        every = np.concatenate([layer.explained for layer in self.layers])
        rows.append(("all", str(len(self.layers)), str(every.size), *_mean_median(every)))
        return format_table(header, rows[:-1], footer=rows[-1:])


def _mean_median(values: np.ndarray) -> tuple[str, str]:
    return f"{100 * values.mean():.1f}", f"{100 * np.median(values):.1f}"


def _analyzable(weight: torch.Tensor) -> bool:
    return weight.dim() == 4 and weight.shape[1] >= 2 and weight.shape[2] * weight.shape[3] > 1


def _conv_resolutions(model: nn.Module, convs: dict[str, nn.Conv2d], input_size) -> dict[str, tuple[int, int]]:
    """Output (H, W) of each conv in one forward pass on zeros (eval mode, no grad, mode restored)."""
    size = batched_size(input_size)
    first = next(model.parameters())
    seen: dict[str, tuple[int, int]] = {}

    def hook(name):
        def record(module, inputs, output):
            seen.setdefault(name, tuple(output.shape[-2:]))

        return record

    handles = [conv.register_forward_hook(hook(name)) for name, conv in convs.items()]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(size, dtype=first.dtype, device=first.device))
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"input_size: the forward pass on {size} failed ({str(err).splitlines()[0]}); expected an input size "
            "the model accepts"
        ) from err
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return seen


def _numbered(keys: dict[str, object], order) -> tuple[dict[str, int], dict[int, object]]:
    """Number the distinct values of ``keys`` (name -> key) 1, 2, ... in ``order``."""
    distinct = sorted(set(keys.values()), key=order)
    index = {k: i + 1 for i, k in enumerate(distinct)}
    return {name: index[k] for name, k in keys.items()}, {i + 1: k for i, k in enumerate(distinct)}


def analyze_kernels(source, input_size=(3, 224, 224), stage_by: str | None = None) -> KernelCorrelations:
    """PC1 explained variance of every filter of ``source`` (an ``nn.Module`` or a state_dict), by stage.

    ``stage_by``: ``"resolution"`` (modules only; a forward pass on ``input_size``) or ``"width"``; by default
    resolution for a module and width for a state_dict (see the module docstring).
    """
    if isinstance(source, nn.Module):
        convs = {n: m for n, m in source.named_modules() if isinstance(m, nn.Conv2d) and _analyzable(m.weight)}
        weights = {n: m.weight for n, m in convs.items()}
    elif isinstance(source, Mapping):
        convs = None
        weights = {
            k.removesuffix(".weight"): v
            for k, v in source.items()
            if k.endswith("weight") and isinstance(v, torch.Tensor) and v.is_floating_point() and _analyzable(v)
        }
    else:
        raise TypeError(f"source: expected an nn.Module or a state_dict, got {type(source).__name__}")
    stage_by = stage_by or ("resolution" if convs is not None else "width")
    if stage_by not in STAGE_BY:
        raise ValueError(f"stage_by: expected one of {STAGE_BY}, got {stage_by!r}")
    if stage_by == "resolution" and convs is None:
        raise ValueError("stage_by: 'resolution' needs a module to run; a state_dict can only be staged by 'width'")
    if not weights:
        raise ValueError(
            "source: no convolution to analyze; expected at least one with a kernel larger than 1x1 and "
            "M/groups >= 2 input channels per filter"
        )
    if stage_by == "resolution":
        resolutions = _conv_resolutions(source, convs, input_size)
        if not resolutions:
            raise ValueError("source: none of the convolutions to analyze ran in the forward pass")
        stages, keys = _numbered(resolutions, order=lambda hw: (-hw[0] * hw[1], hw))
        labels = {s: f"stage {s} ({hw[0]}x{hw[1]})" for s, hw in keys.items()}
    else:
        stages, keys = _numbered({n: w.shape[0] for n, w in weights.items()}, order=lambda n: n)
        labels = {s: f"stage {s} ({n} ch)" for s, n in keys.items()}
    layers = []
    with progress(len(stages), "PC1 per layer") as bar:
        for name, w in weights.items():
            if name in stages:
                w64 = w.detach().cpu().double().numpy()  # N,M,KH,KW
                layers.append(LayerPC1(name, w64, stages[name], reference.pc1_explained_variance(w64)))
                bar.update(1)
    return KernelCorrelations(layers, labels, stage_by)
