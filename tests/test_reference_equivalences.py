"""The paper's equivalences, numerically: a factorized op equals a regular convolution with its full kernel."""

import numpy as np
from hypothesis import given

import reference
import reference.naive as naive
from tests.geometry import conv_cases, seeds


def _geo(case):
    return dict(stride=case.stride, padding=case.padding, dilation=case.dilation)


def _bsconv_s_weights(case, rng):
    return case.weights(rng, (case.m_sub, case.m, 1, 1), (case.n, case.m_sub, 1, 1), (case.n, 1, *case.kernel))


@given(conv_cases(grouped=False), seeds)
def test_eq4_to_7_bsconv_u_equals_conv_with_blueprint_kernel(case, seed):
    """Eq. (4)-(7): pointwise then depthwise computes U * F with F_m^(n) = w_{n,m} B^(n) (Eq. 2)."""
    rng = np.random.default_rng(seed)
    x = case.x(rng)
    w_pw, w_dw = case.weights(rng, (case.n, case.m, 1, 1), (case.n, 1, *case.kernel))
    b = rng.standard_normal(case.n)
    y, _ = reference.bsconv_u_forward(x, w_pw, w_dw, b, **_geo(case))
    y_full, _ = reference.conv2d_forward(x, reference.bsconv_u_kernel(w_pw, w_dw), b, **_geo(case))
    np.testing.assert_allclose(y, y_full, rtol=1e-10, atol=1e-12)


@given(conv_cases(grouped=False), seeds)
def test_eq10_to_14_bsconv_s_equals_conv_with_low_rank_blueprint_kernel(case, seed):
    """Eq. (10)-(14): W^B, W^A, then depthwise computes U * F with W = W^A W^B (Eq. 8) in Eq. 2."""
    rng = np.random.default_rng(seed)
    x = case.x(rng)
    w_b, w_a, w_dw = _bsconv_s_weights(case, rng)
    y, _ = reference.bsconv_s_forward(x, w_b, w_a, w_dw, **_geo(case))
    y_full, _ = reference.conv2d_forward(x, reference.bsconv_s_kernel(w_b, w_a, w_dw), **_geo(case))
    np.testing.assert_allclose(y, y_full, rtol=1e-10, atol=1e-12)


@given(conv_cases(grouped=False), seeds)
def test_eq8_bsconv_s_is_bsconv_u_with_w_equal_wa_wb(case, seed):
    """Eq. (8): BSConv-S is BSConv-U whose weight matrix is the product W^A W^B."""
    rng = np.random.default_rng(seed)
    x = case.x(rng)
    w_b, w_a, w_dw = _bsconv_s_weights(case, rng)
    w = (w_a[:, :, 0, 0] @ w_b[:, :, 0, 0])[:, :, None, None]
    y_s, _ = reference.bsconv_s_forward(x, w_b, w_a, w_dw, **_geo(case))
    y_u, _ = reference.bsconv_u_forward(x, w, w_dw, **_geo(case))
    np.testing.assert_allclose(y_s, y_u, rtol=1e-10, atol=1e-12)


@given(conv_cases(grouped=False), seeds)
def test_sec4_1_dsc_equals_conv_with_cross_kernel_blueprint(case, seed):
    """Sec. 4.1: depthwise then pointwise computes U * F with F_m^(n) = w_{n,m} B'_m (one 3-D blueprint)."""
    rng = np.random.default_rng(seed)
    x = case.x(rng)
    w_dw, w_pw = case.weights(rng, (case.m, 1, *case.kernel), (case.n, case.m, 1, 1))
    b = rng.standard_normal(case.n)
    y, _ = reference.dsc_forward(x, w_dw, w_pw, b, **_geo(case))
    y_full, _ = reference.conv2d_forward(x, reference.dsc_kernel(w_dw, w_pw), b, **_geo(case))
    np.testing.assert_allclose(y, y_full, rtol=1e-10, atol=1e-12)


@given(conv_cases(grouped=False), seeds)
def test_sec4_1_dsc_kernel_is_bsconv_kernel_transposed_in_roles(case, seed):
    """Sec. 4.1 / Fig. 5: every DSC filter shares the slices B'_m; every BSConv filter shares its own B^(n).

    So each DSC kernel slice F_m^(n) is proportional to B'_m across n, and each BSConv kernel slice
    F_m^(n) is proportional to B^(n) across m: rank 1 along the other axis.
    """
    rng = np.random.default_rng(seed)
    w_dw_dsc, w_pw = case.weights(rng, (case.m, 1, *case.kernel), (case.n, case.m, 1, 1))
    f_dsc = reference.dsc_kernel(w_dw_dsc, w_pw)  # N,M,K,K
    across_filters = f_dsc.transpose(1, 0, 2, 3).reshape(case.m, case.n, -1)  # for each m: N samples
    assert all(np.linalg.matrix_rank(s, tol=1e-9) <= 1 for s in across_filters)
    (w_dw_bs,) = case.weights(rng, (case.n, 1, *case.kernel))
    f_bs = reference.bsconv_u_kernel(w_pw, w_dw_bs)
    along_depth = f_bs.reshape(case.n, case.m, -1)  # for each n: M samples
    assert all(np.linalg.matrix_rank(s, tol=1e-9) <= 1 for s in along_depth)


@given(conv_cases(grouped=False), seeds)
def test_full_kernels_vectorized_equal_naive(case, seed):
    rng = np.random.default_rng(seed)
    w_b, w_a, w_dw = _bsconv_s_weights(case, rng)
    w_pw, w_dsc = case.weights(rng, (case.n, case.m, 1, 1), (case.m, 1, *case.kernel))
    pairs = [
        (reference.bsconv_u_kernel(w_pw, w_dw), naive.bsconv_u_kernel(w_pw, w_dw)),
        (reference.bsconv_s_kernel(w_b, w_a, w_dw), naive.bsconv_s_kernel(w_b, w_a, w_dw)),
        (reference.dsc_kernel(w_dsc, w_pw), naive.dsc_kernel(w_dsc, w_pw)),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)
