"""Central finite differences, the independent check of every hand-derived gradient."""
from __future__ import annotations

import numpy as np


def check_gradient(loss, array, analytic, rng, eps=1e-6, samples=12, rtol=1e-6, atol=1e-7):
    """Assert ``analytic`` matches (loss(a + eps e_i) - loss(a - eps e_i)) / 2 eps at sampled entries i.

    ``loss`` is a zero-argument function reading ``array``, which is perturbed in place and restored.
    """
    flat = array.reshape(-1)
    picks = rng.choice(flat.size, size=min(samples, flat.size), replace=False)
    for i in picks:
        saved = flat[i]
        flat[i] = saved + eps
        up = loss()
        flat[i] = saved - eps
        down = loss()
        flat[i] = saved
        numeric = (up - down) / (2 * eps)
        np.testing.assert_allclose(analytic.reshape(-1)[i], numeric, rtol=rtol, atol=atol)
