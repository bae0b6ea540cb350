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
from accel import nhwc, planar
from accel import route as routes
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


def nhwc_copy(a):
    """(B, C, H, W) -> a C-contiguous (B, H, W, C) copy."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1))


def nchw_view(a):
    """(B, H, W, C) -> its (B, C, H, W) view."""
    return a.transpose(0, 3, 1, 2)


def check_op(op, case, seed, dtype, with_bias, channels_last=False):
    """Forward and every gradient of ``op`` from accel against the reference; with ``channels_last`` accel takes x
    and dy as (B, H, W, C) and its y and dx are compared in that layout."""
    if op != "conv2d":
        case = type(case)(**{**case.__dict__, "groups": 1})
    rng = np.random.default_rng(seed)
    arrays = contract_operands(op, case, rng, dtype, with_bias)
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    if op == "conv2d":
        geo["groups"] = case.groups
    y_ref, cache_ref = getattr(reference, f"{op}_forward")(*arrays, **geo)
    dy = rng.standard_normal(y_ref.shape).astype(dtype)
    if channels_last:
        y, cache = getattr(accel, f"{op}_forward")(nhwc_copy(arrays[0]), *arrays[1:], **geo, channels_last=True)
        y, grads = nchw_view(y), list(getattr(accel, f"{op}_backward")(nhwc_copy(dy), cache))
        grads[0] = nchw_view(grads[0])
    else:
        y, cache = getattr(accel, f"{op}_forward")(*arrays, **geo)
        grads = getattr(accel, f"{op}_backward")(dy, cache)
    assert_close(y, y_ref, dtype, f"{op} forward")
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


@pytest.mark.parametrize("op", OPS[1:])
@settings(max_examples=25)
@given(case=conv_cases(), seed=seeds, with_bias=st.booleans(), dtype=st.sampled_from([np.float64, np.float32]))
def test_eq6_7_eq12_14_dsc_channels_last_equal_reference(op, case, seed, with_bias, dtype):
    """BSConv-U (Eq. 6-7), BSConv-S (Eq. 12-14) and DSC (Sec. 4.1) on channels-last x and dy (``channels_last``):
    y, dx and every weight gradient equal the reference's on the NCHW arrays."""
    check_op(op, case, seed, dtype, with_bias, channels_last=True)


def test_channels_last_plans_the_channels_last_kernels():
    """A plane the NCHW planner gives the planar kernels goes to the channels-last ones when the data is
    channels-last, so no step changes its layout."""
    geometry, _ = checks.check_conv2d(np.zeros((1, 1, 32, 32)), np.zeros((1, 1, 3, 3)), None, 1, 1, 1, 1)
    assert routes.plan(8, (32, 32), (3, 3), geometry).planar
    assert not routes.plan(8, (32, 32), (3, 3), geometry, channels_last=True).planar


def test_channels_last_bad_inputs_are_named_in_the_channels_last_layout():
    """x's channels are its last axis, and dy must have the channels-last shape of the forward's output."""
    w_pw, w_dw = np.zeros((4, 4, 1, 1)), np.zeros((4, 1, 3, 3))
    with pytest.raises(ValueError, match=r"w_pw: expected shape \(N, 3, 1, 1\) to match the input channels"):
        accel.bsconv_u_forward(np.zeros((2, 5, 5, 3)), w_pw, w_dw, channels_last=True)
    _, cache = accel.bsconv_u_forward(np.zeros((2, 5, 5, 4)), w_pw, w_dw, padding=1, channels_last=True)
    with pytest.raises(
        ValueError, match=r"dy: expected shape \(2, 5, 5, 4\) \(the forward output\), got \(2, 4, 5, 5\)"
    ):
        accel.bsconv_u_backward(np.zeros((2, 4, 5, 5)), cache)


@pytest.mark.parametrize("op", OPS[1:])
def test_channels_last_large_plane_equals_reference(op):
    """A 12 x 40 plane at stride 1, which NCHW data would run on the planar kernels, channels-last; same results."""
    case = ConvCase(2, 3, 5, 12, 40, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), m_sub=2)
    check_op(op, case, 1, np.float64, True, channels_last=True)


def test_depthwise_route_of_conv2d_equals_reference():
    """groups = M = N (a depthwise conv2d) takes accel's dedicated kernels; same results."""
    case = ConvCase(2, 3, 3, 7, 6, kernel=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=3)
    check_op("conv2d", case, 0, np.float64, True)


@pytest.mark.parametrize("op", OPS)
def test_large_plane_route_equals_reference(op):
    """Stride 1 with Wo = W on a plane of >= route.MIN_PLANE pixels runs the planar kernels; same results."""
    case = ConvCase(2, 3, 3, 12, 96, kernel=(3, 5), stride=(1, 1), padding=(0, 4), dilation=(1, 2), groups=3)
    geometry, _ = checks.check_conv2d(np.zeros((1, 1, 12, 96)), np.zeros((1, 1, 3, 5)), None, 1, (0, 4), (1, 2), 1)
    assert routes.plan(2, (12, 96), (3, 5), geometry) == routes.Route(True, 1, False, False, geometry)
    check_op(op, case, 0, np.float64, True)


@pytest.mark.parametrize("op", OPS[1:])
def test_channels_last_route_equals_reference(op):
    """Stride 2 takes the channels-last depthwise kernels, whose input and gradient the pointwise
    products write and read as transposed operands; same results."""
    case = ConvCase(2, 3, 4, 16, 12, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), m_sub=2)
    geometry, _ = checks.check_conv2d(np.zeros((1, 1, 16, 12)), np.zeros((1, 1, 3, 3)), None, 2, 1, 1, 1)
    assert not routes.plan(2, (16, 12), (3, 3), geometry).planar
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
    taps in one loop, ``accel.planar.forward_3x3``); same results, also with a last group smaller than the others
    (5 samples in groups of 2), and with one sample (a lone plane)."""
    kernel, padding, dilation = GROUPED_GEOMETRIES[geometry_name]
    monkeypatch.setattr(routes, "GROUP_PIXELS", 2 * 12 * 12)  # two samples per task
    monkeypatch.setattr(routes, "MIN_GROUP", 2)
    monkeypatch.setattr(routes, "FUSED_GROUP", (2 * 12 * 12, 2))
    routes.plan.cache_clear()
    geometry, _ = checks.check_conv2d(
        np.zeros((1, 1, 12, 12)), np.zeros((1, 1, *kernel)), None, 1, padding, dilation, 1
    )
    route = routes.plan(batch, (12, 12), kernel, geometry)
    assert route == routes.Route(True, min(batch, 2), batch > 1, kernel == (3, 3), geometry)
    depthwise_conv = op == "conv2d"
    case = ConvCase(
        batch,
        3,
        3 if depthwise_conv else 4,
        12,
        12,
        kernel=kernel,
        stride=(1, 1),
        padding=padding,
        dilation=dilation,
        groups=3 if depthwise_conv else 1,
        m_sub=2,
    )
    check_op(op, case, 0, np.float64, True)
    routes.plan.cache_clear()


def depthwise_reference(rng, x_shape, kernel, **geo):
    x = rng.standard_normal(x_shape)
    w, b = rng.standard_normal((x_shape[1], 1, *kernel)), rng.standard_normal(x_shape[1])
    y_ref, cache_ref = reference.conv2d_forward(x, w, b, groups=x_shape[1], **geo)
    dy = rng.standard_normal(y_ref.shape)
    return x, w, b, dy, (y_ref, *reference.conv2d_backward(dy, cache_ref))


PLANAR_GEOMETRIES = {  # kernel, padding, dilation on stride 1 with Ho, Wo = H, W
    "3x3": ((3, 3), (1, 1), (1, 1)),
    "3x3 dilated": ((3, 3), (2, 1), (2, 1)),
    "3x5 dilated": ((3, 5), (1, 4), (1, 2)),
    "1x3": ((1, 3), (0, 1), (1, 1)),
}


@pytest.mark.parametrize("geometry_name", PLANAR_GEOMETRIES)
@pytest.mark.parametrize(
    "group, stacked, fused", [(1, False, False), (2, True, False), (1, False, True), (2, True, True)]
)
def test_eq7_each_planar_route_equals_reference(geometry_name, group, stacked, fused):
    """Every route ``accel.route.plan`` can give the planar kernels (plane by plane or stacked, tap by tap or
    the nine 3 x 3 taps in one loop), forced on the same inputs: same results as the reference."""
    kernel, padding, dilation = PLANAR_GEOMETRIES[geometry_name]
    if fused and not routes._fits_3x3(kernel, checks.Geometry((1, 1), padding, dilation, (12, 12))):
        pytest.skip("the one-loop route is for 3 x 3 kernels with P = D")
    rng = np.random.default_rng(0)
    x, w, b, dy, want = depthwise_reference(rng, (3, 2, 12, 12), kernel, padding=padding, dilation=dilation)
    geometry, _ = checks.check_conv2d(x, w, b, 1, padding, dilation, 2)
    route = routes.Route(True, group, stacked, fused, geometry)
    got = (planar.depthwise_forward(x, w, b, route), *planar.depthwise_backward(dy, x, w, route))
    for g, g_ref, what in zip(got, want, ("y", "dx", "dw", "db")):
        assert_close(g, g_ref, np.float64, what)


@given(case=conv_cases(grouped=False), seed=seeds)
def test_eq7_channels_last_kernels_equal_reference_depthwise_on_every_geometry(case, seed):
    """accel.nhwc on any stride, padding and dilation (not only where the planner sends work to it)."""
    rng = np.random.default_rng(seed)
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    x, w, b, dy, want = depthwise_reference(rng, case.x(rng).shape, case.kernel, **geo)
    geometry, _ = checks.check_conv2d(x, w, b, groups=case.m, **geo)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    got = (nhwc.depthwise_forward(x_cl, w, b, geometry), *nhwc.depthwise_backward(dy, x_cl, w, geometry, nchw_dx=True))
    for g, g_ref, what in zip(got, want, ("y", "dx", "dw", "db")):
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
