"""``blueprint.profile``: parameters and multiply-adds per layer under the documented convention."""

import pytest
import torch
import torch.nn as nn

from blueprint import BSConvU, profile
from blueprint.cli import main

TINY = "test_profiling_tiny"


def _tiny(num_classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


@pytest.fixture
def zoo_entry(register_test_model):
    """Register the test model only while a test runs, so that zoo-wide tests never see it."""
    register_test_model(TINY, _tiny)


def test_conv_and_linear_flops_are_multiply_adds_and_params_are_counted():
    result = profile(_tiny(), (3, 16, 16))
    conv, bn, relu, pool, flat, fc = result.layers
    assert (conv.kind, conv.params, conv.output_shape) == ("Conv2d", 224, (1, 8, 16, 16))
    assert conv.flops == 8 * 16 * 16 * 3 * 9  # N*H*W outputs, M*K*K multiply-adds each
    assert (fc.flops, fc.params) == (8 * 10, 90)
    assert bn.flops == relu.flops == pool.flops == 0 and bn.params == 16
    assert result.flops == conv.flops + fc.flops
    assert result.params == sum(p.numel() for p in _tiny().parameters())


def test_norm_and_activation_count_one_op_per_element_only_when_asked():
    result = profile(_tiny(), (1, 3, 16, 16), include_norm_act=True)
    bn, relu = result.layers[1], result.layers[2]
    assert bn.flops == relu.flops == 8 * 16 * 16
    assert result.flops == profile(_tiny(), (3, 16, 16)).flops + 2 * 8 * 16 * 16


def test_sec3_3_1_bsconv_u_costs_n_h_w_times_m_plus_k_squared():
    m, n, k, h = 16, 32, 3, 8
    conv = profile(nn.Conv2d(m, n, k, padding=1, bias=False), (m, h, h))
    bsconv = profile(BSConvU(m, n, k, padding=1, bias=False), (m, h, h))
    assert conv.flops == n * h * h * m * k * k
    assert bsconv.flops == n * h * h * (m + k * k)
    assert [layer.name for layer in bsconv.layers] == ["pw", "dw"]


def test_a_batch_multiplies_flops_and_a_shared_layer_counts_params_once():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    single, batch = profile(model, (1, 4, 1, 4)), profile(model, (3, 4, 1, 4))
    assert batch.flops == 3 * single.flops
    assert single.params == 20 and [layer.params for layer in single.layers] == [20, 0, 20]


def test_profile_leaves_mode_and_batchnorm_statistics_untouched():
    model = _tiny().train()
    before = model[1].running_mean.clone()
    profile(model, (3, 8, 8))
    assert model.training and torch.equal(model[1].running_mean, before)


@pytest.mark.parametrize("size", [(16, 16), (0, 3, 8, 8), (3, 8.0, 8), "3x8x8"])
def test_bad_input_size_raises(size):
    with pytest.raises(ValueError, match="^input_size: expected"):
        profile(_tiny(), size)


def test_table_lists_every_layer_and_the_totals():
    table = profile(_tiny(), (3, 8, 8)).table()
    lines = table.splitlines()
    assert lines[0].split() == ["layer", "kind", "output", "shape", "params", "MFLOPs"]
    assert lines[-1].split()[0] == "total" and len(lines) == 6 + 4


def test_profile_command_prints_table_and_totals(capsys, zoo_entry):
    assert main(["profile", TINY, "--input-size", "3", "16", "16", "--num-classes", "5"]) == 0
    out = capsys.readouterr().out
    expected = profile(_tiny(5), (3, 16, 16))
    assert f"{expected.params:,} parameters" in out and "Conv2d" in out
    assert main(["profile", "no_such_model"]) == 2


def test_transposed_convolutions_count_per_input_element():
    up = profile(nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2), (4, 5, 5))
    assert up.flops == 4 * 5 * 5 * (6 // 2) * 3 * 3  # every input element meets (N / groups) * K * K weights


def test_profile_counts_fused_layers_under_the_accel_backend():
    """A BSConv layer fused by accel skips its children's hooks; profile counts on the torch backend."""
    import blueprint

    model = nn.Sequential(blueprint.BSConvU(4, 8, 3, padding=1))
    plain = profile(model, (4, 6, 6))
    with blueprint.use_backend("accel"):
        assert profile(model, (4, 6, 6)).flops == plain.flops == 6 * 6 * (8 * 4 + 8 * 9)


def test_an_input_the_model_cannot_take_is_a_value_error_naming_input_size():
    model = nn.Sequential(nn.Conv2d(3, 4, 5))
    with pytest.raises(ValueError, match=r"input_size: the forward pass on \(1, 3, 2, 2\) failed"):
        profile(model, (3, 2, 2))
