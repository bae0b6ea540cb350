"""Figures of Sec. 3.1: the PC1 histogram by stage (like Fig. 3) and one kernel's depth slices (like Fig. 2).

Both functions save a PNG (``blueprint.plotting.save``: the book's column width; no text under 10 pt at
matplotlib's default sizes, a ``SmallTextWarning`` and the PNG all the same under an rc with smaller fonts; a
long title, a checkpoint's path say, is wrapped to the column rather than widening the figure) and return the ``matplotlib.figure.Figure`` (a notebook displays
it). They use matplotlib's object API, not pyplot, so they work without a display and leave pyplot's state alone.
"""

from __future__ import annotations

import math
import textwrap

import matplotlib
import numpy as np
from matplotlib.figure import Figure

import reference
from blueprint import plotting
from blueprint.analysis.correlation import KernelCorrelations


def plot_pc1_histogram(result: KernelCorrelations, path, title: str = "model", bins: int = 20) -> Figure:
    """Fig. 3: per stage, the distribution of the variance of each filter explained by PC1, saved to ``path``.

    Each stage is normalized to 100% so that stages with few filters stay visible.
    """
    fig = plotting.figure(5.2)
    ax = fig.subplots()
    edges = np.linspace(0.0, 100.0, bins + 1)
    colors = matplotlib.colormaps["tab10"]
    for i, (stage, values) in enumerate(result.by_stage().items()):
        pct = 100 * values
        weights = np.full(pct.shape, 100.0 / pct.size)
        label = f"{result.stage_labels[stage]}: {pct.size} filters, mean {pct.mean():.0f}%"
        ax.hist(pct, bins=edges, weights=weights, color=colors(i % 10), alpha=0.25)
        ax.hist(pct, bins=edges, weights=weights, color=colors(i % 10), histtype="step", linewidth=2, label=label)
    ax.set_xlim(0, 100)
    ax.set_xlabel("variance of the filter explained by PC1 (%)")
    ax.set_ylabel("filters of the stage (%)")
    ax.set_title(f"{_wrapped(title)}:\nintra-kernel correlation per filter (cf. Fig. 3)")
    ax.legend(title=f"stages by {result.stage_by}")
    return _saved_with_caption(
        fig,
        path,
        "Each filter's M depth slices (K x K) are PCA samples (centered); 100% means\nthey lie on a line "
        "through their mean slice. Eq. (2) implies 100%, not the converse.",
    )


def plot_kernel_slices(weight, filter_index: int, path, title: str = "filter", max_slices: int = 32) -> Figure:
    """Fig. 2: the K x K slices `F_m^(n)` of one filter (N, M, K, K)[n], next to its rank-1 blueprint `B^(n)`.

    n and m are 0-based indices into ``weight`` (``weight[n, m]``), in the titles as in ``filter_index``.

    Slices share one symmetric color scale (red positive, blue negative) so that scaled and inverted copies
    of the blueprint are visible; at most ``max_slices`` slices are drawn.
    """
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4:
        raise ValueError(f"weight: expected an (N, M, KH, KW) kernel, got shape {w.shape}")
    if not 0 <= filter_index < w.shape[0]:
        raise ValueError(f"filter_index: expected 0 <= index < N={w.shape[0]}, got {filter_index}")
    f = w[filter_index : filter_index + 1]  # 1,M,KH,KW
    _, blueprint, rel_err = reference.blueprint_factorize(f)  # 1,1,KH,KW
    ev = float(reference.pc1_explained_variance(f)[0])
    shown = min(f.shape[1], max_slices)
    cols = min(6, shown + 1)
    rows = math.ceil((shown + 1) / cols)
    fig = plotting.figure(1.2 * rows + 1.3)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    bound = np.abs(f[0, :shown]).max() or 1.0
    b = np.abs(blueprint).max() or 1.0
    axes.flat[0].imshow(blueprint[0, 0], cmap="RdBu_r", vmin=-b, vmax=b)
    axes.flat[0].set_title("blueprint B\n(own scale)", fontsize=10)
    for m in range(shown):
        image = axes.flat[m + 1].imshow(f[0, m], cmap="RdBu_r", vmin=-bound, vmax=bound)
        axes.flat[m + 1].set_title(f"slice m={m}", fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    more = f" (first {shown} of {f.shape[1]})" if shown < f.shape[1] else ""
    fig.suptitle(  # the title (a layer's name, say) on a line of its own
        f"{_wrapped(title)},\nfilter n={filter_index}: {f.shape[1]} slices{more} of {f.shape[2]}x{f.shape[3]}\n"
        f"(cf. Fig. 2; 0-based n and m). PC1 explains {100 * ev:.0f}% of the slices' variance;\n"
        f"rank-1 blueprint error {100 * float(rel_err[0]):.0f}%",
    )
    return _saved_with_caption(
        fig,
        path,
        "Red is positive, blue negative. Slices built from one blueprint (Eq. 2) look like\nscaled or inverted "
        "copies of it.",
    )


TITLE_COLUMNS = 50  # a title's characters a line: at the default 12 pt they fit the 7 in column


def _wrapped(title: str) -> str:
    """``title`` in lines of at most ``TITLE_COLUMNS`` characters (a path without spaces is broken anywhere)."""
    return "\n".join(textwrap.wrap(title, TITLE_COLUMNS)) or title


def _saved_with_caption(fig: Figure, path, caption: str) -> Figure:
    """``fig`` with ``caption`` under its lower left corner, written to ``path`` (``blueprint.plotting.save``)."""
    fig.text(0.01, -0.01, caption, ha="left", va="top")
    plotting.save(fig, path)
    return fig
