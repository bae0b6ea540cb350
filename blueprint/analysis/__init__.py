"""Sec. 3.1's kernel-correlation analysis: per-filter PC1 explained variance by stage, Fig. 2/3-style figures.

``analyze_kernels`` computes the statistic, ``plot_pc1_histogram`` and ``plot_kernel_slices`` draw it,
``load_source`` turns a zoo name or a file into a module or state_dict, and ``write_analysis`` does all of it
for ``blueprint analyze``.
"""

from blueprint.analysis.correlation import KernelCorrelations, LayerPC1, analyze_kernels
from blueprint.analysis.figures import plot_kernel_slices, plot_pc1_histogram
from blueprint.analysis.report import write_analysis
from blueprint.sources import default_input_size, load_source

__all__ = [
    "KernelCorrelations",
    "LayerPC1",
    "analyze_kernels",
    "plot_pc1_histogram",
    "plot_kernel_slices",
    "write_analysis",
    "load_source",
    "default_input_size",
]
