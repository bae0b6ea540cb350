"""Every hand-derived backward of the reference equals central finite differences and the loop version."""

import numpy as np
import pytest
from hypothesis import given

import reference
import reference.naive as naive
from reference.equations import OPS
from tests.finite_differences import check_gradient
from tests.geometry import contract_operands, conv_cases, seeds


def _geometry(op, case):
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    return {**geo, "groups": case.groups} if op == "conv2d" else geo


@pytest.mark.parametrize("op", OPS)
@given(case=conv_cases(max_channels=4, max_kernel=3), seed=seeds)
def test_backward_equals_central_finite_differences(op, case, seed):
    if op != "conv2d":
        case = type(case)(**{**case.__dict__, "groups": 1})
    rng = np.random.default_rng(seed)
    forward, backward = getattr(reference, f"{op}_forward"), getattr(reference, f"{op}_backward")
    arrays = contract_operands(op, case, rng)
    geo = _geometry(op, case)
    y, cache = forward(*arrays, **geo)
    dy = rng.standard_normal(y.shape)
    grads = backward(dy, cache)

    def loss():
        return float(np.sum(forward(*arrays, **geo)[0] * dy))  # the fake loss <y, dy>

    for array, grad in zip(arrays, grads):
        check_gradient(loss, array, grad, rng)


@pytest.mark.parametrize("op", OPS)
@given(case=conv_cases(max_channels=4, max_kernel=3), seed=seeds)
def test_backward_vectorized_equals_naive_loops(op, case, seed):
    if op != "conv2d":
        case = type(case)(**{**case.__dict__, "groups": 1})
    rng = np.random.default_rng(seed)
    arrays = contract_operands(op, case, rng)
    geo = _geometry(op, case)
    y, cache = getattr(reference, f"{op}_forward")(*arrays, **geo)
    y_naive, cache_naive = getattr(naive, f"{op}_forward")(*arrays, **geo)
    np.testing.assert_allclose(y, y_naive, rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    got = getattr(reference, f"{op}_backward")(dy, cache)
    want = getattr(naive, f"{op}_backward")(dy, cache_naive)
    assert len(got) == len(want) == len(arrays)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_backward_without_bias_returns_none_for_db():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 3, 5, 5))
    _, cache = reference.bsconv_u_forward(x, rng.standard_normal((4, 3, 1, 1)), rng.standard_normal((4, 1, 3, 3)))
    *_, db = reference.bsconv_u_backward(np.ones((1, 4, 3, 3)), cache)
    assert db is None


@given(seeds)
def test_eq9_orthonormal_loss_gradient_equals_finite_differences(seed):
    rng = np.random.default_rng(seed)
    m_sub = int(rng.integers(1, 5))
    w_b = rng.standard_normal((m_sub, int(rng.integers(m_sub, 8)), 1, 1))
    grad = reference.orthonormal_loss_backward(w_b)
    check_gradient(lambda: reference.orthonormal_loss(w_b), w_b, grad, rng)
    np.testing.assert_allclose(grad, naive.orthonormal_loss_backward(w_b), rtol=1e-10, atol=1e-12)
    assert reference.orthonormal_loss(w_b) == pytest.approx(naive.orthonormal_loss(w_b), rel=1e-12)


def test_eq9_orthonormal_loss_is_frobenius_norm_not_squared():
    w_b = 2.0 * np.eye(3)  # W W^T - I = 3 I, whose Frobenius norm is sqrt(27)
    assert reference.orthonormal_loss(w_b) == pytest.approx(np.sqrt(27.0))


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (4, 6, 1, 1)])
def test_eq9_at_orthonormal_rows_loss_and_returned_gradient_are_zero(shape):
    """At W W^T = I the norm is not differentiable; we return 0, the minimum-norm subgradient."""
    w_b = np.eye(shape[0], shape[1]).reshape(shape)
    assert reference.orthonormal_loss(w_b) == 0.0
    np.testing.assert_array_equal(reference.orthonormal_loss_backward(w_b), np.zeros(shape))
    np.testing.assert_array_equal(naive.orthonormal_loss_backward(w_b), np.zeros(shape))


def test_eq9_gradient_descent_reaches_orthonormal_rows():
    """The gradient points the right way: descending it drives W^B to orthonormal rows.

    The loss is a norm, so its gradient keeps unit size near the minimum; the step shrinks with the loss.
    """
    w_b = np.random.default_rng(3).standard_normal((3, 8)) * 0.5
    start = reference.orthonormal_loss(w_b)
    for _ in range(200):
        w_b -= 0.1 * reference.orthonormal_loss(w_b) * reference.orthonormal_loss_backward(w_b)
    assert reference.orthonormal_loss(w_b) < 1e-3 * start
