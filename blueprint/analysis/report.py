"""One call for the whole analysis: statistic, table and both figures into a folder."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from blueprint.analysis.correlation import KernelCorrelations, LayerPC1
from blueprint.analysis.figures import plot_kernel_slices, plot_pc1_histogram

HISTOGRAM_FILE = "pc1_histogram.png"
SLICES_FILE = "kernel_slices.png"


@dataclass
class AnalysisFiles:
    histogram: str
    slices: str
    layer: str
    filter_index: int


def default_layer(result: KernelCorrelations) -> LayerPC1:
    """The first analyzed layer with at least 8 slices per filter (a stem conv has only 3), else the first."""
    return next((layer for layer in result.layers if layer.weight.shape[1] >= 8), result.layers[0])


def write_analysis(
    result: KernelCorrelations,
    output_dir,
    title: str = "model",
    layer: str | None = None,
    filter_index: int | None = None,
    bins: int = 20,
) -> AnalysisFiles:
    """Write the Fig. 3-style histogram and a Fig. 2-style slice figure into ``output_dir``.

    The slice figure shows ``layer`` (default: ``default_layer``) and ``filter_index`` (default: that layer's
    filter with the largest PC1 share, the clearest example of a blueprint).
    """
    os.makedirs(output_dir, exist_ok=True)
    chosen = result.layer(layer) if layer is not None else default_layer(result)
    n = int(np.argmax(chosen.explained)) if filter_index is None else filter_index
    histogram = os.path.join(output_dir, HISTOGRAM_FILE)
    slices = os.path.join(output_dir, SLICES_FILE)
    plot_pc1_histogram(result, histogram, title=title, bins=bins)
    plot_kernel_slices(chosen.weight, n, slices, title=f"{title}: layer {chosen.name}")
    return AnalysisFiles(histogram, slices, chosen.name, n)
