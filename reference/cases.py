"""Random cases for the equivalences of ``reference.equations``, and how far two results are apart.

A case is drawn from a ``numpy.random.Generator`` with two of its methods only, ``integers(low, high)``
(high exclusive) and ``standard_normal(shape)``, so any object with those two can stand in for it: the
test suite passes one that draws through hypothesis, so that a failing case shrinks to a small one.

Shapes are small (the naive loops run on them): batch 1-2, channels 1-4, kernel 1-3 per axis, stride
1-3, padding 0-2, dilation 1-2 per axis, groups 1-3 (conv2d), float64 or float32, with or without bias.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FLOATS = (np.float64, np.float32)

#: Names of each op's forward arguments in contract order (x first, the bias last).
OPERANDS = {
    "conv2d": ("x", "w", "b"),
    "dsc": ("x", "w_dw", "w_pw", "b"),
    "bsconv_u": ("x", "w_pw", "w_dw", "b"),
    "bsconv_s": ("x", "w_b", "w_a", "w_dw", "b"),
}


@dataclass(frozen=True)
class Case:
    """One drawn instance: named arrays (a missing bias is None), geometry keywords, and a seed for the rest.

    ``seed`` seeds what an entry draws while it measures (the output gradient dy, which entries a
    central difference perturbs), so that a case is reproduced from what ``describe`` prints.
    """

    arrays: dict
    geometry: dict = field(default_factory=dict)
    seed: int = 0

    @property
    def operands(self) -> list:
        return list(self.arrays.values())

    @property
    def dtype(self) -> np.dtype:
        return next(a.dtype for a in self.arrays.values() if a is not None)

    def values(self) -> np.random.Generator:
        """A fresh generator for what the entry draws while measuring this case."""
        return np.random.default_rng(self.seed)

    def describe(self) -> str:
        """Shapes, geometry, dtype and seed: everything that fixes the case."""
        parts = [f"{k} {a.shape}" if a is not None else f"no {k}" for k, a in self.arrays.items()]
        parts += [f"{k} {v}" for k, v in self.geometry.items()]
        return ", ".join(parts + [self.dtype.name, f"seed {self.seed}"])


def integer(rng, low: int, high: int) -> int:
    """An int in [low, high], both ends included."""
    return int(rng.integers(low, high + 1))


def pick(rng, options):
    return options[integer(rng, 0, len(options) - 1)]


def pair(rng, low: int, high: int) -> tuple[int, int]:
    return integer(rng, low, high), integer(rng, low, high)


def _side(rng, k: int, stride: int, padding: int, dilation: int) -> int:
    """An input size that the dilated kernel fits once padded, with up to two more output positions."""
    span = dilation * (k - 1) + 1
    return max(1, span - 2 * padding) + integer(rng, 0, 2 * stride)


def draw_operands(rng, op: str, dtypes=FLOATS, max_channels: int = 4) -> Case:
    """A case for ``op``'s forward: x, its weights in the contract's layouts, a bias or None, the geometry."""
    kernel, stride, padding, dilation = pair(rng, 1, 3), pair(rng, 1, 3), pair(rng, 0, 2), pair(rng, 1, 2)
    groups = integer(rng, 1, 3) if op == "conv2d" else 1
    m = groups * integer(rng, 1, max(1, max_channels // groups))
    n = groups * integer(rng, 1, max(1, max_channels // groups))
    m_sub = integer(rng, 1, m)
    h, w = (_side(rng, kernel[a], stride[a], padding[a], dilation[a]) for a in (0, 1))
    batch, dtype, with_bias = integer(rng, 1, 2), pick(rng, dtypes), integer(rng, 0, 1) == 1
    shapes = {
        "conv2d": [(n, m // groups, *kernel)],
        "dsc": [(m, 1, *kernel), (n, m, 1, 1)],
        "bsconv_u": [(n, m, 1, 1), (n, 1, *kernel)],
        "bsconv_s": [(m_sub, m, 1, 1), (n, m_sub, 1, 1), (n, 1, *kernel)],
    }[op]
    shapes = [(batch, m, h, w), *shapes, (n,) if with_bias else None]
    arrays = {
        name: None if s is None else rng.standard_normal(s).astype(dtype) for name, s in zip(OPERANDS[op], shapes)
    }
    geometry = dict(stride=stride, padding=padding, dilation=dilation)
    if op == "conv2d":
        geometry["groups"] = groups
    return Case(arrays, geometry, integer(rng, 0, 2**31 - 1))


def draw_blueprint_kernel(rng, dtypes=FLOATS) -> Case:
    """Factors of a blueprint-structured kernel, Eq. (2): W (N, M, 1, 1) and blueprints B (N, 1, K, K)."""
    n, m, kernel, dtype = integer(rng, 1, 5), integer(rng, 1, 6), pair(rng, 1, 4), pick(rng, dtypes)
    w_pw = rng.standard_normal((n, m, 1, 1)).astype(dtype)
    w_dw = rng.standard_normal((n, 1, *kernel)).astype(dtype)
    return Case({"w_pw": w_pw, "w_dw": w_dw}, seed=integer(rng, 0, 2**31 - 1))


def draw_w_b(rng, dtypes=FLOATS, orthonormal_rows: bool = True) -> Case:
    """W^B (M', M, 1, 1) for Eq. (9); a quarter of the cases (where M' <= M) with exactly orthonormal rows."""
    m_sub, m, dtype = integer(rng, 1, 4), integer(rng, 1, 6), pick(rng, dtypes)
    if orthonormal_rows and m_sub <= m and integer(rng, 0, 3) == 0:
        w_b = np.eye(m_sub, m, dtype=dtype)
    else:
        w_b = rng.standard_normal((m_sub, m)).astype(dtype)
    return Case({"w_b": w_b[:, :, None, None]}, seed=integer(rng, 0, 2**31 - 1))


def deviation(got, want) -> float:
    """max |got - want| relative to max(1, max |want|); infinite where shape, dtype or None-ness differ.

    NaN counts as infinite, so that a comparison never passes on it.
    """
    if got is None or want is None:
        return 0.0 if got is None and want is None else float("inf")
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return float("inf")
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    error = float(np.abs(got.astype(np.float64) - want).max(initial=0.0)) / scale
    return error if np.isfinite(error) else float("inf")
