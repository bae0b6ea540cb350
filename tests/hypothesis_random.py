"""A stand-in for ``numpy.random.Generator`` that draws through hypothesis, so that failing cases shrink."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


class HypothesisRandom:
    """The two methods ``reference.cases`` draws with: every integer (a shape, a stride, a dtype, a seed) is
    one hypothesis draw and shrinks towards the smallest; array values come from a NumPy generator whose
    seed is one more draw."""

    def __init__(self, data):
        self.data = data
        self.values = None

    def integers(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high - 1))

    def standard_normal(self, size):
        if self.values is None:
            self.values = np.random.default_rng(self.data.draw(st.integers(0, 2**32 - 1), label="values seed"))
        return self.values.standard_normal(size)
