"""The depthwise planner: which kernels run a depthwise step (Eq. 7, the first step of DSC), decided once
per call and carried as a ``Route`` value in the forward's cache, so the backward takes the same route.

Two kernel families compute the same equation on different memory layouts:

- ``accel.planar`` (NCHW or channel-major planes): on stride 1 with Wo = W, where every tap of a plane
  is one contiguous run, and on planes of at least ``MIN_PLANE`` output pixels. On the 'same' geometry
  (Ho, Wo = H, W) it stacks ``group`` samples' planes into one run per task (``stacked``); a 3 x 3 kernel
  with P = D on both axes takes all nine taps in one loop (``fused``).
- ``accel.nhwc`` (channels-last): everything else (strided layers, small planes), and every step whose data
  is channels-last already (``channels_last``: the accel backend's training path keeps a model's activations
  in that layout, so no step changes it).

The thresholds, in one place, each with the measurement that chose it (2 cores, float32, MobileNet shapes):
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from reference.checks import Geometry

MIN_PLANE = 128  # output pixels per plane below which the channels-last kernels were faster (8 x 8 planes)
# Samples per task on the 'same' geometry, tap by tap: about GROUP_PIXELS output pixels per run; below
# MIN_GROUP planes per run, plane by plane was faster (the stacked masks cost more than they save).
GROUP_PIXELS, MIN_GROUP = 2048, 4
# The one-loop 3 x 3 kernels need only four masks and gained from longer runs: (pixels, fewest planes).
FUSED_GROUP = (4096, 2)


class Route(NamedTuple):
    """How one depthwise step runs: the kernel family and, for ``planar``, the samples per task, whether
    their planes stack into one run, and whether the nine 3 x 3 taps go in one loop."""

    planar: bool
    group: int
    stacked: bool
    fused: bool
    geometry: Geometry


def _fits_3x3(kernel_hw, geometry: Geometry) -> bool:
    """A 3 x 3 kernel with padding = dilation on both axes (so Ho, Wo = H, W on stride 1)."""
    return tuple(kernel_hw) == (3, 3) and geometry.padding == geometry.dilation


@functools.lru_cache(maxsize=256)
def plan(batch: int, x_hw: tuple, kernel_hw: tuple, geometry: Geometry, channels_last: bool = False) -> Route:
    """The route of a depthwise step over ``batch`` samples of (H, W) = ``x_hw`` whose data is NCHW, or
    channels-last if ``channels_last`` (module docstring)."""
    (ho, wo), stride = geometry.out, geometry.stride
    if channels_last or not (stride == (1, 1) and wo == x_hw[1] and ho * wo >= MIN_PLANE):
        return Route(False, 1, False, False, geometry)
    fused = _fits_3x3(kernel_hw, geometry)
    pixels, min_group = FUSED_GROUP if fused else (GROUP_PIXELS, MIN_GROUP)
    group = min(batch, pixels // (ho * wo))
    if (ho, wo) == tuple(x_hw) and pixels // (ho * wo) >= min_group and group > 1:
        return Route(True, group, True, fused, geometry)
    return Route(True, 1, False, fused, geometry)
