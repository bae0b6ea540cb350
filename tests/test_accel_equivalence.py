"""accel equals the NumPy reference: every forward and every gradient, on hypothesis-drawn geometry.

float64 to 1e-10 and float32 to 1e-4, relative to the largest entry of the reference result. The
shapes cover kernel 1-5, stride 1-3, padding 0-2, dilation 1-2, groups dividing M and N (conv2d;
groups = M = N exercises accel's depthwise route), odd and non-square sizes.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import accel
import reference
from accel import planes, taps3x3
from reference import checks
from tests.geometry import ConvCase, contract_operands, conv_cases, seeds

OPS = ["conv2d", "dsc", "bsconv_u", "bsconv_s"]
RTOL = {np.float64: 1e-10, np.float32: 1e-4}


def assert_close(actual, expected, dtype, what):
    assert actual.dtype == expected.dtype == dtype, what
    assert actual.shape == expected.shape, what
    scale = max(float(np.abs(expected).max(initial=0.0)), 1.0)
    error = float(np.abs(actual.astype(np.float64) - expected).max(initial=0.0))
    assert error <= RTOL[dtype] * scale, f"{what}: max error {error:.3g}, scale {scale:.3g}"


def check_op(op, case, seed, dtype, with_bias):
    """Forward and every gradient of ``op`` from accel against the reference."""
    if op != "conv2d":
        case = type(case)(**{**case.__dict__, "groups": 1})
    rng = np.random.default_rng(seed)
    arrays = contract_operands(op, case, rng, dtype, with_bias)
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    if op == "conv2d":
        geo["groups"] = case.groups
    y_ref, cache_ref = getattr(reference, f"{op}_forward")(*arrays, **geo)
    y, cache = getattr(accel, f"{op}_forward")(*arrays, **geo)
    assert_close(y, y_ref, dtype, f"{op} forward")
    dy = rng.standard_normal(y.shape).astype(dtype)
    grads = getattr(accel, f"{op}_backward")(dy, cache)
    grads_ref = getattr(reference, f"{op}_backward")(dy, cache_ref)
    assert len(grads) == len(grads_ref)
    for i, (g, g_ref) in enumerate(zip(grads, grads_ref)):
        if g_ref is None:
            assert g is None, f"{op} gradient {i}: expected None without a bias"
        else:
            assert_close(g, g_ref, dtype, f"{op} gradient {i}")


@pytest.mark.parametrize("op", OPS)
@given(case=conv_cases(), seed=seeds, with_bias=st.booleans())
def test_accel_forward_and_gradients_equal_reference_float64(op, case, seed, with_bias):
    check_op(op, case, seed, np.float64, with_bias)


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=10)
@given(case=conv_cases(), seed=seeds)
def test_accel_forward_and_gradients_equal_reference_float32(op, case, seed):
    check_op(op, case, seed, np.float32, True)


def test_depthwise_route_of_conv2d_equals_reference():
    """groups = M = N (a depthwise conv2d) takes accel's dedicated kernels; same results."""
    case = ConvCase(2, 3, 3, 7, 6, kernel=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=3)
    check_op("conv2d", case, 0, np.float64, True)


@pytest.mark.parametrize("op", OPS)
def test_large_plane_route_equals_reference(op):
    """Stride 1 with Wo = W on a plane of >= planes.MIN_PLANE pixels runs the NCHW plane kernels; same results."""
    case = ConvCase(2, 3, 3, 12, 96, kernel=(3, 5), stride=(1, 1), padding=(0, 4), dilation=(1, 2), groups=3)
    geometry = checks.check_conv2d(np.zeros((1, 1, 12, 96)), np.zeros((1, 1, 3, 5)), None, 1, (0, 4), (1, 2), 1)
    assert planes.suits((12, 96), geometry[:4])
    check_op(op, case, 0, np.float64, True)


@pytest.mark.parametrize("op", OPS[1:])
def test_channels_last_route_equals_reference(op):
    """Stride 2 takes the channels-last depthwise kernels, whose input and gradient the pointwise
    products write and read as transposed operands; same results."""
    case = ConvCase(2, 3, 4, 16, 12, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), m_sub=2)
    geometry = checks.check_conv2d(np.zeros((1, 1, 16, 12)), np.zeros((1, 1, 3, 3)), None, 2, 1, 1, 1)
    assert not planes.suits((16, 12), geometry[:4])
    check_op(op, case, 0, np.float64, True)


GROUPED_GEOMETRIES = {  # kernel, padding, dilation: each keeps Ho, Wo = H, W
    "3x5 tap by tap": ((3, 5), (1, 4), (1, 2)),
    "3x3 in one loop": ((3, 3), (1, 1), (1, 1)),
    "3x3 dilated, in one loop": ((3, 3), (2, 1), (2, 1)),
}


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("batch", [1, 5])
@pytest.mark.parametrize("geometry_name", GROUPED_GEOMETRIES)
def test_grouped_plane_route_equals_reference(op, batch, geometry_name, monkeypatch):
    """Stride 1 'same' geometry on small planes: each task stacks the planes of several samples into one
    run per tap, masking the rows that would reach into the neighbouring plane (3 x 3 kernels: all nine
    taps in one loop, ``accel.taps3x3``); same results, also with a last group smaller than the others
    (5 samples in groups of 2), and with one sample (a lone plane)."""
    kernel, padding, dilation = GROUPED_GEOMETRIES[geometry_name]
    monkeypatch.setattr(planes, "GROUP_PIXELS", 2 * 12 * 12)  # two samples per task
    monkeypatch.setattr(planes, "MIN_GROUP", 2)
    monkeypatch.setattr(planes, "FUSED_GROUP", (2 * 12 * 12, 2))
    geometry = checks.check_conv2d(np.zeros((1, 1, 12, 12)), np.zeros((1, 1, *kernel)), None, 1, padding, dilation, 1)
    assert planes.suits((12, 12), geometry[:4])
    for fused in (False, True):
        assert planes.grouping(batch, geometry[:4], (12, 12), fused) == ((min(batch, 2), True) if batch > 1 else (1, False))
    assert taps3x3.fits(kernel, geometry[:4]) == (kernel == (3, 3))
    depthwise_conv = op == "conv2d"
    case = ConvCase(batch, 3, 3 if depthwise_conv else 4, 12, 12, kernel=kernel, stride=(1, 1), padding=padding,
                    dilation=dilation, groups=3 if depthwise_conv else 1, m_sub=2)
    check_op(op, case, 0, np.float64, True)


@given(case=conv_cases(grouped=False), seed=seeds)
def test_eq7_plane_kernels_equal_reference_depthwise_on_every_geometry(case, seed):
    """accel.planes on any stride, padding and dilation (not only where ``suits`` sends work to it)."""
    rng = np.random.default_rng(seed)
    x = case.x(rng)
    w, b = rng.standard_normal((case.m, 1, *case.kernel)), rng.standard_normal(case.m)
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation, groups=case.m)
    y_ref, cache_ref = reference.conv2d_forward(x, w, b, **geo)
    geometry = checks.check_conv2d(x, w, b, **geo)[:4]
    assert_close(planes.depthwise_forward(x, w, b, geometry), y_ref, np.float64, "forward")
    dy = rng.standard_normal(y_ref.shape)
    for g, g_ref, what in zip(
        planes.depthwise_backward(dy, x, w, geometry), reference.conv2d_backward(dy, cache_ref), ("dx", "dw", "db")
    ):
        assert_close(g, g_ref, np.float64, what)


@given(m_sub=st.integers(1, 6), m=st.integers(1, 8), seed=seeds, dtype=st.sampled_from([np.float64, np.float32]))
def test_eq9_orthonormal_loss_and_gradient_equal_reference(m_sub, m, seed, dtype):
    w_b = np.random.default_rng(seed).standard_normal((m_sub, m, 1, 1)).astype(dtype)
    loss, loss_ref = accel.orthonormal_loss(w_b), reference.orthonormal_loss(w_b)
    assert isinstance(loss, float)
    assert abs(loss - loss_ref) <= RTOL[dtype] * max(loss_ref, 1.0)
    assert_close(accel.orthonormal_loss_backward(w_b), reference.orthonormal_loss_backward(w_b), dtype, "dL/dW^B")


def test_eq9_gradient_is_zero_at_orthonormal_rows():
    """W^B W^B^T = I exactly: the loss is 0 and, as in the reference, the (minimum-norm sub)gradient is 0."""
    w_b = np.eye(2, 4)[:, :, None, None]  # 2,4,1,1 with orthonormal rows
    assert accel.orthonormal_loss(w_b) == 0.0
    np.testing.assert_array_equal(accel.orthonormal_loss_backward(w_b), np.zeros_like(w_b))
