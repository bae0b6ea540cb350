"""From a trained baseline to its BSConv variant: the zoo layout, exact SVD starts, BatchNorm recalibration, the
distillation loss (``blueprint.training.warm_start``, ``blueprint.recalibration``, ``blueprint.training.distillation``)."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from batchnorms import randomized_batchnorms
from blueprint import recalibrate_bn
from blueprint.conversion import convert
from blueprint.layers import subspace_channels
from blueprint.models import create
from blueprint.training.distillation import Distillation, distillation_loss
from blueprint.training.warm_start import baseline_of, convert_baseline, inner_batchnorms, warm_start

DIGITS_VARIANTS = ("digits_cnn_bsconvu", "digits_cnn_bsconvs_p1d4")


def layout(model: nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("target", [*DIGITS_VARIANTS, "cifar_resnet20_bsconvu", "cifar_resnet20_bsconvs_p1d4"])
def test_a_converted_baseline_has_exactly_the_zoo_variants_state_dict(target):
    torch.manual_seed(0)
    baseline = create(baseline_of(target))
    converted = convert_baseline(baseline, target, num_classes=10)
    assert list(layout(converted)) == list(layout(create(target)))
    assert layout(converted) == layout(create(target))
    report = converted.conversion_report
    assert report.layers and all(layer.rel_error is not None for layer in report.layers)
    assert all(layer.params_after < layer.params_before for layer in report.layers if layer.in_channels >= 16)


def blueprint_structured(model: nn.Module, p: float, seed: int = 0) -> nn.Module:
    """Every 3x3 kernel made F_m^(n) = w_{n,m} B^(n) (Eq. 2) with rank(W) <= M' (Eq. 8): BSConv-U and BSConv-S
    (ratio ``p``) compute it exactly."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                n, c = m.out_channels, m.in_channels
                rank = subspace_channels(c, p)
                w = torch.randn(n, rank, generator=g) @ torch.randn(rank, c, generator=g) / c  # N,M of rank M'
                blueprints = torch.randn(n, 3, 3, generator=g)  # N,K,K
                m.weight.copy_(w[:, :, None, None] * blueprints[:, None])  # N,M,K,K
    return randomized_batchnorms(model)


@pytest.mark.parametrize("target", DIGITS_VARIANTS)
def test_svd_start_of_a_blueprint_structured_baseline_gives_its_logits(target):
    baseline = blueprint_structured(create("digits_cnn"), p=0.25)
    x = torch.randn(16, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = baseline(x)
        got = convert_baseline(baseline, target, num_classes=10).eval()(x)
    assert torch.allclose(got, expected, atol=1e-5, rtol=0), (got - expected).abs().max()


def batch_statistics(model: nn.Module, batches) -> dict:
    """Each BatchNorm's expected running statistics: the means over the batches of its input's batch mean and
    unbiased batch variance per channel, captured by hooks in a training-mode pass."""
    seen = {}
    hooks = [
        m.register_forward_hook(lambda mod, inp, out: seen.setdefault(mod, []).append(inp[0].detach()))
        for m in model.modules()
        if isinstance(m, nn.BatchNorm2d)
    ]
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    for h in hooks:
        h.remove()
    return {
        m: (
            torch.stack([b.mean((0, 2, 3)) for b in xs]).mean(0),
            torch.stack([b.transpose(0, 1).flatten(1).var(1) for b in xs]).mean(0),
        )
        for m, xs in seen.items()
    }


def test_recalibration_sets_the_running_statistics_to_those_of_the_batches():
    model = randomized_batchnorms(create("digits_cnn"))
    g = torch.Generator().manual_seed(2)
    batches = [torch.randn(32, 1, 8, 8, generator=g) for _ in range(3)]
    expected = batch_statistics(model, batches)
    model.eval()
    recalibrate_bn(model, batches)
    assert not model.training
    for bn, (mean, var) in expected.items():
        assert torch.allclose(bn.running_mean, mean, atol=1e-5) and torch.allclose(bn.running_var, var, atol=1e-4)
        assert bn.momentum == 0.1


def test_recalibration_after_an_exact_conversion_restores_the_baselines_statistics():
    g = torch.Generator().manual_seed(3)
    batches = [torch.randn(32, 1, 8, 8, generator=g) for _ in range(2)]
    baseline = recalibrate_bn(blueprint_structured(create("digits_cnn"), p=1.0), batches)
    restored = {k: v.clone() for k, v in baseline.state_dict().items() if "running" in k}
    converted = convert_baseline(baseline, "digits_cnn_bsconvu", num_classes=10)
    for bn in (m for m in converted.modules() if isinstance(m, nn.BatchNorm2d)):
        bn.reset_running_stats()  # statistics lost; the affine parameters are the baseline's
    recalibrate_bn(converted, batches)
    state = converted.state_dict()
    for key, value in restored.items():  # the same names: a ConvBlock keeps its bn beside the new BSConv-U
        assert torch.allclose(state[key], value, atol=1e-4), key


def test_pass_through_batchnorms_of_bsconv_s_keep_their_function_through_recalibration():
    g = torch.Generator().manual_seed(5)
    batches = [torch.randn(32, 1, 8, 8, generator=g) for _ in range(2)]
    trained = randomized_batchnorms(create("digits_cnn"))
    plain = convert(copy.deepcopy(trained), to="bsconv_s", p=0.25, init="svd")  # no BatchNorm between its steps
    converted = warm_start(trained, "digits_cnn_bsconvs_p1d4", 10, batches)  # recalibrated, bn1/bn2 preserved
    recalibrate_bn(plain, batches)
    assert len(inner_batchnorms(converted)) == 8
    x = batches[0]
    with torch.no_grad():
        assert torch.allclose(converted.eval()(x), plain.eval()(x), atol=1e-4)
    for bn in inner_batchnorms(converted):  # statistics measured, so that batch statistics pass the input through
        assert not torch.equal(bn.running_var, torch.ones_like(bn.running_var))
        assert torch.allclose(bn.weight, torch.sqrt(bn.running_var + bn.eps)) and torch.allclose(
            bn.bias, bn.running_mean
        )


def test_distillation_loss_is_the_hand_computed_kl_times_t_squared():
    s = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]])
    t = np.array([[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    temperature = 2.0

    def softmax(z):
        e = np.exp(z / temperature - (z / temperature).max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p, q = softmax(t), softmax(s)
    by_hand = temperature**2 * np.mean([sum(p[b, c] * math.log(p[b, c] / q[b, c]) for c in range(3)) for b in range(2)])
    got = distillation_loss(torch.tensor(s), torch.tensor(t), temperature)
    assert got.item() == pytest.approx(by_hand, rel=1e-6)
    assert distillation_loss(torch.tensor(t), torch.tensor(t), temperature).item() == pytest.approx(0.0, abs=1e-7)


def test_distillation_mixes_cross_entropy_and_kl_with_a_frozen_eval_mode_teacher():
    teacher = create("digits_cnn").train()
    distill = Distillation(teacher, temperature=4.0, weight=0.9)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    x = torch.randn(4, 1, 8, 8)
    logits = torch.randn(4, 10, requires_grad=True)
    ce = torch.tensor(1.5)
    loss = distill.loss(ce, logits, x)
    with torch.no_grad():
        expected = 0.1 * 1.5 + 0.9 * distillation_loss(logits, teacher(x), 4.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    assert logits.grad is not None and all(p.grad is None for p in teacher.parameters())
