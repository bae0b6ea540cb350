"""The orthonormal loss of Eq. (9) on models: value and gradient equal the reference, summed over opted-in layers."""

import numpy as np
import pytest
import torch
import torch.nn as nn

import reference
from blueprint import BSConvS, BSConvU, mark_orthonormal, orthonormal_loss, orthonormal_penalty, regularized_weights
from blueprint.regularization import OrthonormalLoss


def _model():
    torch.manual_seed(0)
    return nn.Sequential(
        BSConvS(12, 16, 3, p=0.5),  # pw1: W^B (6, 12, 1, 1)
        BSConvU(16, 16, 3),  # not regularized
        mark_orthonormal(nn.Conv2d(16, 5, 1, bias=False)),  # a projection conv, Sec. 4.2
        nn.Conv2d(5, 5, 1),  # not marked
    ).double()


def test_eq9_loss_is_the_unweighted_sum_of_reference_losses_over_regularized_weights():
    model = _model()
    names = [name for name, _ in regularized_weights(model)]
    assert names == ["0.pw1.weight", "2.weight"]
    expected = sum(reference.orthonormal_loss(w.detach().numpy()) for _, w in regularized_weights(model))
    assert orthonormal_loss(model).item() == pytest.approx(expected, rel=1e-12)


def test_eq9_gradient_equals_the_reference_backward():
    model = _model()
    orthonormal_loss(model).backward()
    for _, w in regularized_weights(model):
        np.testing.assert_allclose(
            w.grad.numpy(), reference.orthonormal_loss_backward(w.detach().numpy()), rtol=1e-10, atol=1e-12
        )
    assert model[1].pw.weight.grad is None and model[3].weight.grad is None


def test_eq9_loss_vanishes_on_orthonormal_rows_and_its_gradient_where_exactly_zero():
    q, _ = torch.linalg.qr(torch.randn(10, 4, dtype=torch.float64))  # 10x4 with orthonormal columns
    assert orthonormal_penalty(q.T.reshape(4, 10, 1, 1)).item() < 1e-12
    w_b = torch.eye(4, 10, dtype=torch.float64).reshape(4, 10, 1, 1).requires_grad_()  # W W^T = I exactly
    orthonormal_penalty(w_b).backward()
    np.testing.assert_array_equal(w_b.grad.numpy(), reference.orthonormal_loss_backward(w_b.detach().numpy()))
    assert not w_b.grad.any()


def test_a_weight_marked_twice_counts_once():
    layer = BSConvS(8, 8, 3)
    mark_orthonormal(layer.pw1)
    assert len(regularized_weights(layer)) == 1


def test_model_without_regularized_layers_has_zero_loss():
    loss = orthonormal_loss(nn.Sequential(nn.Conv2d(3, 4, 3)).double())
    assert loss.item() == 0.0 and loss.dtype == torch.float64


def test_mark_orthonormal_rejects_what_is_not_a_matrix():
    with pytest.raises(ValueError, match="^conv: expected a pointwise"):
        mark_orthonormal(nn.Conv2d(4, 4, 3))
    with pytest.raises(ValueError, match="^conv: expected a pointwise"):
        mark_orthonormal(nn.Conv2d(4, 4, 1, groups=2))
    with pytest.raises(TypeError, match="^conv: expected"):
        mark_orthonormal(nn.ReLU())
    with pytest.raises(TypeError, match="^model: expected an nn.Module"):
        orthonormal_loss("model")


def _deep_model():
    torch.manual_seed(1)
    layers = [BSConvS(12, 12, 3, padding=1, p=0.5) for _ in range(3)] + [BSConvS(12, 8, 3, padding=1, p=0.25)]
    return nn.Sequential(*layers, mark_orthonormal(nn.Conv2d(8, 4, 1))).double()


def test_eq9_batched_by_shape_equals_the_per_weight_sum_and_its_gradient():
    model = _deep_model()
    planned = OrthonormalLoss(model)
    assert sorted(len(g) for g in planned.groups) == [1, 1, 3]  # three W^B of shape (6, 12, 1, 1) in one product
    weights = [w for _, w in regularized_weights(model)]
    expected = torch.stack([orthonormal_penalty(w) for w in weights]).sum()
    grads = torch.autograd.grad(expected, weights)
    loss = planned()
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=0)
    for got, want in zip(torch.autograd.grad(loss, weights), grads):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_eq9_planned_loss_walks_the_model_once_and_follows_its_weights(monkeypatch):
    model = _deep_model()
    planned = OrthonormalLoss(model)
    monkeypatch.setattr(nn.Module, "named_modules", lambda *a, **k: pytest.fail("the model was walked again"))
    with torch.no_grad():
        model[0].pw1.weight.copy_(torch.eye(6, 12).reshape(6, 12, 1, 1))  # one W^B made orthonormal in place
    rest = [w for g in planned.groups for w in g if w is not model[0].pw1.weight]
    torch.testing.assert_close(planned(), torch.stack([orthonormal_penalty(w) for w in rest]).sum())


def test_a_model_without_regularized_weights_plans_nothing_to_add():
    planned = OrthonormalLoss(nn.Sequential(nn.Conv2d(3, 4, 3), BSConvU(4, 4, 3)))
    assert not planned and planned().item() == 0.0 and not planned().requires_grad
