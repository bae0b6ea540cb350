"""Sec. 3.1: how much of a filter is one blueprint? PCA of kernel slices and rank-1 factorization.

A filter `F^(n)` of shape (M, K, K) is split into M samples of K*K values (its depth slices).
"""

from __future__ import annotations

import numpy as np

from reference import checks


def _slices(w):
    """(N, M, K, K) -> (N, M, K*K): each filter's depth slices as samples."""
    checks.float_array("w", w, 4)
    n, m, kh, kw = w.shape
    return w.reshape(n, m, kh * kw)


def pc1_explained_variance(w):
    """Fig. 3's statistic: per filter, the fraction of the slices' variance explained by PC1.

    For filter n: center its M slices (subtract the mean slice), take the singular values `s_i` of the
    centered (M, K*K) matrix, and return `s_1^2 / sum_i s_i^2` (PCA's explained-variance ratio of PC1).
    A filter whose slices are all equal has no variance; it is fully described by one component, and
    we return 1.0 for it. Returns an (N,) array in w's dtype.
    """
    samples = _slices(w)  # N,M,KK
    centered = samples - samples.mean(axis=1, keepdims=True)  # N,M,KK
    s = np.linalg.svd(centered, compute_uv=False)  # N,min(M,KK)
    total = np.sum(s * s, axis=1)
    safe = np.where(total > 0, total, 1)
    return np.where(total > 0, s[:, 0] ** 2 / safe, 1.0).astype(w.dtype)


def blueprint_factorize(w):
    """Best rank-1 blueprint per filter: `F_m^(n) ~= w_{n,m} B^(n)` (Eq. 2), by SVD without centering.

    For filter n with slices `S` (M, K*K) `= U Sigma V^T`: the blueprint `B^(n)` is the top right singular
    vector `v_1` (unit norm) and the weights are `w_{n,:} = sigma_1 u_1`; by Eckart-Young this minimizes
    `||S - w B^T||_F`. The sign is fixed so that the blueprint's largest-magnitude entry is positive.

    Returns ``(w_pw, w_dw, rel_err)``: w_pw (N, M, 1, 1), w_dw (N, 1, K, K) such that
    ``bsconv_u_kernel(w_pw, w_dw)`` approximates w, and rel_err (N,) `= ||F - F_hat||_F / ||F||_F` per
    filter (0 for an all-zero filter). Exact (rel_err `~= 0`) for blueprint-structured kernels.
    """
    samples = _slices(w)  # N,M,KK
    n, m, kh, kw = w.shape
    u, s, vt = np.linalg.svd(samples, full_matrices=False)  # N,M,r  N,r  N,r,KK
    blueprint = vt[:, 0, :]  # N,KK
    weights = u[:, :, 0] * s[:, :1]  # N,M
    peak = np.take_along_axis(blueprint, np.argmax(np.abs(blueprint), axis=1)[:, None], axis=1)  # N,1
    sign = np.where(peak < 0, -1.0, 1.0).astype(w.dtype)
    blueprint, weights = blueprint * sign, weights * sign
    total = np.sum(s * s, axis=1)  # ||F||_F^2
    residual = np.sum(s[:, 1:] ** 2, axis=1)  # Eckart-Young: ||F - F_hat||_F^2 = sum of the discarded s_i^2
    rel_err = np.sqrt(residual / np.where(total > 0, total, 1))
    return (
        weights.reshape(n, m, 1, 1).astype(w.dtype),
        blueprint.reshape(n, 1, kh, kw).astype(w.dtype),
        rel_err.astype(w.dtype),
    )
