"""Sec. 3.1's PCA statistic and the rank-1 blueprint factorization."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import reference
import reference.naive as naive
from tests.geometry import seeds

shapes = st.tuples(st.integers(1, 6), st.integers(2, 8), st.integers(1, 5))  # N, M, K


def _blueprint_kernel(rng, n, m, k):
    """F_m^(n) = w_{n,m} B^(n) (Eq. 2)."""
    return reference.bsconv_u_kernel(rng.standard_normal((n, m, 1, 1)), rng.standard_normal((n, 1, k, k)))


@given(shapes, seeds)
def test_pc1_explains_all_variance_of_blueprint_structured_kernels(shape, seed):
    w = _blueprint_kernel(np.random.default_rng(seed), *shape)
    np.testing.assert_allclose(reference.pc1_explained_variance(w), 1.0, rtol=1e-9)


@given(shapes, seeds)
def test_pc1_vectorized_equals_pca_by_covariance_eigenvalues(shape, seed):
    n, m, k = shape
    w = np.random.default_rng(seed).standard_normal((n, m, k, k))
    got = reference.pc1_explained_variance(w)
    np.testing.assert_allclose(got, naive.pc1_explained_variance(w), rtol=1e-9, atol=1e-12)
    assert np.all((got > 0) & (got <= 1 + 1e-12))


def test_pc1_of_isotropic_slices_is_one_over_k_squared():
    """K*K orthogonal +-e_i slices spread the variance evenly over K*K components."""
    k = 3
    slices = np.concatenate([np.eye(k * k), -np.eye(k * k)])  # 2 K^2 samples, mean 0, covariance ~ I
    w = slices.reshape(1, 2 * k * k, k, k)
    assert reference.pc1_explained_variance(w)[0] == pytest.approx(1 / (k * k))


def test_pc1_of_identical_slices_is_one():
    w = np.ones((2, 4, 3, 3))
    np.testing.assert_array_equal(reference.pc1_explained_variance(w), [1.0, 1.0])


@given(shapes, seeds)
def test_blueprint_factorize_is_exact_on_eq2_kernels(shape, seed):
    w = _blueprint_kernel(np.random.default_rng(seed), *shape)
    w_pw, w_dw, rel_err = reference.blueprint_factorize(w)
    assert w_pw.shape == (shape[0], shape[1], 1, 1) and w_dw.shape == (shape[0], 1, shape[2], shape[2])
    np.testing.assert_allclose(reference.bsconv_u_kernel(w_pw, w_dw), w, rtol=1e-9, atol=1e-11)
    assert np.all(rel_err < 1e-7)


@given(shapes, seeds)
def test_blueprint_factorize_error_is_the_true_residual_and_matches_naive(shape, seed):
    n, m, k = shape
    w = np.random.default_rng(seed).standard_normal((n, m, k, k))
    w_pw, w_dw, rel_err = reference.blueprint_factorize(w)
    residual = w - reference.bsconv_u_kernel(w_pw, w_dw)
    direct = np.linalg.norm(residual.reshape(n, -1), axis=1) / np.linalg.norm(w.reshape(n, -1), axis=1)
    np.testing.assert_allclose(rel_err, direct, rtol=1e-7, atol=1e-9)
    naive_pw, naive_dw, naive_err = naive.blueprint_factorize(w)
    np.testing.assert_allclose(rel_err, naive_err, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(reference.bsconv_u_kernel(naive_pw, naive_dw), w - residual, rtol=1e-7, atol=1e-9)


@given(shapes, seeds)
def test_blueprint_factorize_beats_any_other_rank1_blueprint(shape, seed):
    """Eckart-Young: no other (weights, blueprint) pair has a smaller residual."""
    n, m, k = shape
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((n, m, k, k))
    _, _, rel_err = reference.blueprint_factorize(w)
    w_dw = reference.blueprint_factorize(w)[1] + 0.1 * rng.standard_normal((n, 1, k, k))
    slices, b = w.reshape(n, m, -1), w_dw.reshape(n, -1)
    weights = np.einsum("nmk,nk->nm", slices, b) / np.sum(b * b, axis=1, keepdims=True)  # best weights for b
    other = reference.bsconv_u_kernel(weights[:, :, None, None], w_dw)
    other_err = np.linalg.norm((w - other).reshape(n, -1), axis=1) / np.linalg.norm(w.reshape(n, -1), axis=1)
    assert np.all(rel_err <= other_err + 1e-12)


def test_blueprint_factorize_keeps_dtype_and_zero_filters():
    w = np.zeros((2, 3, 3, 3), np.float32)
    w[1] = 1.0
    w_pw, w_dw, rel_err = reference.blueprint_factorize(w)
    assert w_pw.dtype == w_dw.dtype == rel_err.dtype == np.float32
    np.testing.assert_allclose(rel_err, 0.0, atol=1e-6)
    np.testing.assert_allclose(reference.bsconv_u_kernel(w_pw, w_dw), w, atol=1e-6)
