"""Central finite differences, the independent check of every hand-derived gradient."""

from __future__ import annotations

import numpy as np

from reference.equations import central_differences


def check_gradient(loss, array, analytic, rng, samples=12, rtol=1e-6, atol=1e-7):
    """Assert ``analytic`` matches (loss(a + h e_i) - loss(a - h e_i)) / 2h (h = 1e-6) at sampled entries i.

    ``loss`` is a zero-argument function reading ``array``, which is perturbed in place and restored.
    """
    picks = rng.choice(array.size, size=min(samples, array.size), replace=False)
    np.testing.assert_allclose(
        analytic.reshape(-1)[picks], central_differences(loss, array, picks), rtol=rtol, atol=atol
    )
