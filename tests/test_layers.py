"""The PyTorch layers equal the NumPy reference, forward and backward, with the same weights (float64)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given

import reference
from blueprint import BSConvS, BSConvU, DSConv, subspace_channels
from tests.geometry import conv_cases, seeds


def _geo(case):
    return dict(stride=case.stride, padding=case.padding, dilation=case.dilation)


def _set(module, value):
    with torch.no_grad():
        module.copy_(torch.from_numpy(value))


def _torch_forward_backward(layer, x, dy):
    """Outputs and gradients of ``(layer(x) * dy).sum()`` (dy is the upstream gradient)."""
    xt = torch.from_numpy(x).requires_grad_()
    y = layer(xt)
    (y * torch.from_numpy(dy)).sum().backward()
    return y.detach().numpy(), xt.grad.numpy()


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-11)


def _agrees_with_reference(layer, op, params, values, x, case, rng):
    """Set ``params`` to ``values`` (the reference's weight order), then compare forward, dx and every weight's
    gradient of ``layer`` with the reference's ``{op}_forward``/``{op}_backward`` for an upstream gradient dy."""
    for param, value in zip(params, values):
        _set(param, value)
    y_ref, cache = getattr(reference, f"{op}_forward")(x, *values, **_geo(case))
    dy = rng.standard_normal(y_ref.shape)
    y, dx = _torch_forward_backward(layer, x, dy)
    dx_ref, *grads_ref = getattr(reference, f"{op}_backward")(dy, cache)
    _close(y, y_ref)
    _close(dx, dx_ref)
    for param, grad_ref in zip(params, grads_ref):
        _close(param.grad.numpy(), grad_ref)


@given(conv_cases(grouped=False, max_kernel=3), seeds)
def test_eq6_7_bsconv_u_layer_equals_reference_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    layer = BSConvU(case.m, case.n, case.kernel, bias=True, **_geo(case)).double()
    x = case.x(rng)
    w_pw, w_dw, b = case.weights(rng, (case.n, case.m, 1, 1), (case.n, 1, *case.kernel), (case.n,))
    _agrees_with_reference(
        layer, "bsconv_u", (layer.pw.weight, layer.dw.weight, layer.dw.bias), (w_pw, w_dw, b), x, case, rng
    )


@given(conv_cases(grouped=False, max_kernel=3), seeds)
def test_eq12_14_bsconv_s_layer_equals_reference_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    # p tiny and min_mid_channels = M' gives exactly M' = case.m_sub subspace channels
    layer = BSConvS(case.m, case.n, case.kernel, p=1e-6, min_mid_channels=case.m_sub, **_geo(case)).double()
    assert layer.pw1.out_channels == case.m_sub
    x = case.x(rng)
    w_b, w_a, w_dw, b = case.weights(
        rng, (case.m_sub, case.m, 1, 1), (case.n, case.m_sub, 1, 1), (case.n, 1, *case.kernel), (case.n,)
    )
    _agrees_with_reference(
        layer,
        "bsconv_s",
        (layer.pw1.weight, layer.pw2.weight, layer.dw.weight, layer.dw.bias),
        (w_b, w_a, w_dw, b),
        x,
        case,
        rng,
    )


@given(conv_cases(grouped=False, max_kernel=3), seeds)
def test_sec4_1_dsconv_layer_equals_reference_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    layer = DSConv(case.m, case.n, case.kernel, bias=True, **_geo(case)).double()
    x = case.x(rng)
    w_dw, w_pw, b = case.weights(rng, (case.m, 1, *case.kernel), (case.n, case.m, 1, 1), (case.n,))
    _agrees_with_reference(
        layer, "dsc", (layer.dw.weight, layer.pw.weight, layer.pw.bias), (w_dw, w_pw, b), x, case, rng
    )


def test_state_dict_keys_match_the_official_implementation():
    assert list(BSConvU(8, 16, 3).state_dict()) == ["pw.weight", "dw.weight", "dw.bias"]
    assert list(BSConvS(8, 16, 3).state_dict()) == ["pw1.weight", "pw2.weight", "dw.weight", "dw.bias"]
    assert [n for n, _ in BSConvS(8, 16, 3, with_bn=True).named_children()] == ["pw1", "bn1", "pw2", "bn2", "dw"]
    assert [n for n, _ in BSConvU(8, 16, 3, with_bn=True).named_children()] == ["pw", "bn", "dw"]


@pytest.mark.parametrize("m, p, minimum", [(32, 0.25, 4), (6, 0.25, 4), (3, 0.25, 4), (100, 1 / 6, 4), (10, 1.0, 1)])
def test_eq8_subspace_size_is_min_m_max_minimum_ceil_p_m(m, p, minimum):
    expected = min(m, max(minimum, math.ceil(p * m)))
    assert subspace_channels(m, p, minimum) == expected
    assert BSConvS(m, 8, 3, p=p, min_mid_channels=minimum).pw1.weight.shape == (expected, m, 1, 1)


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: BSConvS(8, 8, 3, p=0.0), "p"),
        (lambda: BSConvS(8, 8, 3, p=1.5), "p"),
        (lambda: BSConvS(8, 8, 3, min_mid_channels=0), "min_mid_channels"),
        (lambda: BSConvU(0, 8, 3), "in_channels"),
        (lambda: BSConvU(8, -1, 3), "out_channels"),
        (lambda: BSConvU(8, 8, 0), "kernel_size"),
        (lambda: BSConvU(8, 8, 4, padding="same"), "padding"),
        (lambda: BSConvS(8, 8, 3, stride=2, padding="same"), "padding"),
        (lambda: BSConvU(8, 8, 3, stride=0), "stride"),
        (lambda: DSConv(8, 8, 3, dilation=(1, 0)), "dilation"),
        (lambda: BSConvU(8, 8, 3, padding=-1), "padding"),
        (lambda: BSConvS(8, 8, 3, padding="full"), "padding"),
    ],
)
def test_bad_layer_arguments_raise_value_error_naming_the_argument(make, argument):
    with pytest.raises(ValueError, match=rf"^{argument}: "):
        make()


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: BSConvS(8, 8, 3, p="half"), "p"),
        (lambda: DSConv(8, 2.5, 3), "out_channels"),
        (lambda: BSConvU(8, 8, 3.0), "kernel_size"),
        (lambda: BSConvU(8, 8, None), "kernel_size"),
        (lambda: BSConvU(8, 8, (3, 3, 3)), "kernel_size"),
    ],
)
def test_wrong_argument_types_raise_type_error_naming_the_argument(make, argument):
    with pytest.raises(TypeError, match=rf"^{argument}: "):
        make()
