"""The torch bridge: accel ops as autograd Functions, and the layers running on them under use_backend."""

import pytest
import torch
import torch.nn as nn

import blueprint.backend as backend
from blueprint import BSConvS, BSConvU, DSConv


def _tensors(*shapes):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize(
    "geo", [dict(), dict(stride=2, padding=1), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))], ids=str
)
def test_gradcheck_of_every_bridge_op(geo):
    x, w_pw, w_dw, b = _tensors((2, 3, 6, 5), (4, 3, 1, 1), (4, 1, 3, 3), (4,))
    assert torch.autograd.gradcheck(lambda *a: backend.bsconv_u(*a, **geo), (x, w_pw, w_dw, b))
    w_b, w_a = _tensors((2, 3, 1, 1), (4, 2, 1, 1))
    assert torch.autograd.gradcheck(lambda *a: backend.bsconv_s(*a, **geo), (x, w_b, w_a, w_dw, b))
    (d_dw,) = _tensors((3, 1, 3, 3))
    assert torch.autograd.gradcheck(lambda *a: backend.dsc(*a, **geo), (x, d_dw, w_pw, b))
    assert torch.autograd.gradcheck(lambda *a: backend.dsc(*a, None, **geo), (x, d_dw, w_pw))


LAYERS = {
    "bsconv_u": lambda: BSConvU(3, 5, 3, stride=2, padding=1),
    "bsconv_u_same_no_bias": lambda: BSConvU(3, 5, 3, padding="same", dilation=2, bias=False),
    "bsconv_s": lambda: BSConvS(8, 6, 3, padding=1, p=0.5),
    "dsc": lambda: DSConv(3, 5, (3, 1), stride=(1, 2), padding=(1, 0)),
}


def _run(layer, x):
    x = x.clone().requires_grad_()
    y = layer(x)
    (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    grads = [x.grad] + [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    return y.detach(), grads


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_under_accel_backend_equals_plain_torch(name, dtype, tol):
    torch.manual_seed(0)
    layer = LAYERS[name]().to(dtype)
    x = torch.randn(2, layer[0].in_channels, 9, 8, dtype=dtype)
    with backend.use_backend("accel"):
        assert backend.fusable(layer, x)
        y_accel, g_accel = _run(layer, x)
    assert not backend.fusable(layer, x)
    y_torch, g_torch = _run(layer, x)
    torch.testing.assert_close(y_accel, y_torch, rtol=tol, atol=tol)
    for a, t in zip(g_accel, g_torch):
        torch.testing.assert_close(a, t, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", list(LAYERS))
def test_channels_last_input_runs_channels_last_and_equals_plain_torch(name):
    """A channels-last input gives a channels-last output and a channels-last dx, as PyTorch's convolutions do,
    with the values (and weight gradients) of the torch backend; an NCHW input keeps giving NCHW."""
    torch.manual_seed(0)
    layer = LAYERS[name]().double()
    x = torch.randn(3, layer[0].in_channels, 9, 8, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    with backend.use_backend("accel"):
        y_accel, g_accel = _run(layer, x)
        y_nchw = layer(x.contiguous())
    assert y_accel.is_contiguous(memory_format=torch.channels_last) and not y_accel.is_contiguous()
    assert g_accel[0].is_contiguous(memory_format=torch.channels_last) and not g_accel[0].is_contiguous()
    assert y_nchw.is_contiguous()
    y_torch, g_torch = _run(layer, x)
    torch.testing.assert_close(y_accel, y_torch, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(y_nchw, y_torch, rtol=1e-10, atol=1e-10)
    for a, t in zip(g_accel, g_torch):
        torch.testing.assert_close(a, t, rtol=1e-10, atol=1e-10)


def test_layers_that_cannot_fuse_fall_back_to_their_torch_forward():
    x = torch.randn(1, 4, 6, 6)
    with backend.use_backend("accel"):
        assert not backend.fusable(BSConvU(4, 4, 3, with_bn=True), x)
        assert not backend.fusable(BSConvU(4, 4, 3, padding=1, padding_mode="reflect"), x)
        assert not backend.fusable(BSConvU(4, 4, 3), x.to(torch.float16))
        assert not backend.fusable(BSConvU(4, 4, 3).double(), x)
        layer = BSConvU(4, 4, 3, with_bn=True).eval()
        torch.testing.assert_close(layer(x), nn.Sequential.forward(layer, x))


def test_use_backend_restores_the_previous_backend_and_refuses_unknown_names():
    assert backend.get_backend() == "torch"
    with backend.use_backend("accel"):
        assert backend.get_backend() == "accel"
    assert backend.get_backend() == "torch"
    with pytest.raises(ValueError, match="backend: expected one of torch, accel, got 'cuda'"):
        backend.use_backend("cuda").__enter__()


def _train(use_accel, steps=15, memory_format=torch.contiguous_format):
    """A small BSConv network on fixed random data in ``memory_format``: the loss after ``steps`` SGD steps."""
    torch.manual_seed(0)
    model = nn.Sequential(
        BSConvU(3, 8, 3, padding=1),
        nn.ReLU(),
        BSConvS(8, 8, 3, stride=2, padding=1, p=0.5),
        nn.ReLU(),
        DSConv(8, 4, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    x, target = torch.randn(8, 3, 12, 12).contiguous(memory_format=memory_format), torch.randint(0, 4, (8,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with backend.use_backend("accel" if use_accel else "torch"):
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
    return loss.item()


def test_training_with_accel_backend_reaches_the_same_loss_as_plain_torch():
    accel_loss, torch_loss = _train(True), _train(False)
    assert accel_loss < 1.3  # it learned something: the loss at chance is ln 4 = 1.39
    assert accel_loss == pytest.approx(torch_loss, rel=1e-3)
    assert _train(True, memory_format=torch.channels_last) == pytest.approx(torch_loss, rel=1e-3)


def test_in_place_change_of_a_saved_input_is_refused_as_on_the_torch_backend():
    import blueprint

    x = torch.randn(1, 2, 5, 5, requires_grad=True)
    h = x * 1.0
    layer = blueprint.BSConvU(2, 3, 3)
    with blueprint.use_backend("accel"):
        y = layer(h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_accel_ops_run_on_as_many_threads_as_torch(monkeypatch):
    """Under torchrun (OMP_NUM_THREADS=1) each process must not start one Numba thread per core: the accel
    backend runs its kernels on torch.get_num_threads() threads, in the forward and in the backward, and
    gives Numba its own setting back afterwards."""
    import numba

    from blueprint import accel_threads

    seen = []
    module = accel_threads.accel()
    for name in ("bsconv_u_forward", "bsconv_u_backward"):
        op = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda *a, _op=op, **k: (seen.append(numba.get_num_threads()), _op(*a, **k))[1]
        )
    threads = torch.get_num_threads()
    x, w_pw, w_dw = _tensors((2, 3, 6, 5), (4, 3, 1, 1), (4, 1, 3, 3))
    try:
        for wanted in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            torch.set_num_threads(wanted)
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            backend.bsconv_u(x, w_pw, w_dw, None, 1, 1).sum().backward()
            assert seen[-2:] == [wanted, wanted]
            assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize(
    "layer",
    [BSConvU(4, 6, 3, padding=1), BSConvS(4, 6, 3, padding=1, p=0.5, min_mid_channels=2), DSConv(4, 6, 3, padding=1)],
)
def test_an_unbatched_input_runs_on_accel_as_a_batch_of_one_as_on_torch(layer):
    x = torch.randn(4, 5, 5, dtype=torch.float64, requires_grad=True)  # M,H,W
    layer = layer.double()
    expected = layer(x)
    with backend.use_backend("accel"):
        assert backend.fusable(layer, x)
        y = layer(x)
    assert y.shape == expected.shape == (6, 5, 5) and torch.allclose(y, expected, atol=1e-10)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert torch.allclose(grad, torch.autograd.grad(expected.sum(), x)[0], atol=1e-10)
