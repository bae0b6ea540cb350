"""conv2d: the vectorized reference against the loop specification, Eq. (3), and PyTorch."""

import numpy as np
import torch
from hypothesis import given

import reference
import reference.naive as naive
from tests.geometry import conv_cases, seeds


def _operands(case, rng, bias=True):
    x = case.x(rng)
    (w,) = case.weights(rng, (case.n, case.m // case.groups, *case.kernel))
    b = rng.standard_normal(case.n) if bias else None
    return x, w, b


def _geometry(case):
    return dict(stride=case.stride, padding=case.padding, dilation=case.dilation, groups=case.groups)


@given(conv_cases(), seeds)
def test_conv2d_vectorized_equals_naive_loops_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    x, w, b = _operands(case, rng, bias=bool(seed % 2))
    y, cache = reference.conv2d_forward(x, w, b, **_geometry(case))
    y_naive, cache_naive = naive.conv2d_forward(x, w, b, **_geometry(case))
    np.testing.assert_allclose(y, y_naive, rtol=1e-10, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    for got, want in zip(reference.conv2d_backward(dy, cache), naive.conv2d_backward(dy, cache_naive)):
        if want is None:
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@given(conv_cases(grouped=False), seeds)
def test_eq3_convolution_is_sum_of_single_channel_convolutions(case, seed):
    """Eq. (3): V_n = sum_m U_m * F_m^(n), each term a 2-D convolution of one input channel."""
    rng = np.random.default_rng(seed)
    x, w, _ = _operands(case, rng, bias=False)
    geo = dict(stride=case.stride, padding=case.padding, dilation=case.dilation)
    y, _ = reference.conv2d_forward(x, w, **geo)
    per_channel = sum(reference.conv2d_forward(x[:, m : m + 1], w[:, m : m + 1], **geo)[0] for m in range(case.m))
    np.testing.assert_allclose(y, per_channel, rtol=1e-10, atol=1e-12)


@given(conv_cases(), seeds)
def test_conv2d_matches_pytorch_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    x, w, b = _operands(case, rng)
    y, cache = reference.conv2d_forward(x, w, b, **_geometry(case))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt, **_geometry(case))
    dy = rng.standard_normal(y.shape)
    (yt * torch.tensor(dy)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    for got, want in zip(reference.conv2d_backward(dy, cache), (xt.grad, wt.grad, bt.grad)):
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_keeps_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    y, cache = reference.conv2d_forward(x, w, np.zeros(4, np.float32), padding=1)
    assert y.dtype == np.float32
    assert all(g.dtype == np.float32 for g in reference.conv2d_backward(np.ones_like(y), cache))
