"""``blueprint.fuse``: BatchNorm folding and the BSConv-S merge compute the unfused model's function exactly."""

import pytest
import torch
import torch.nn as nn

import blueprint
from blueprint.fusion import merge_is_cheaper
from blueprint.models import create, list_models
from tests.batchnorms import randomized_batchnorms

# One model of each family, baseline and BSConv variant, at a small input (float64 keeps 1e-10 meaningful).
# PyTorch runs float64 depthwise convolutions one channel at a time, which makes the ImageNet DSC families slow.
slow = pytest.mark.slow
ZOO = [
    ("cifar_resnet20", 32),
    ("cifar_resnet20_bsconvu", 32),
    ("cifar_resnet20_bsconvs_p1d4", 32),
    ("cifar_preresnet20", 32),
    ("cifar_preresnet20_bsconvu", 32),
    ("cifar_wrn16_4_bsconvu", 32),
    ("cifar_mobilenetv1_w1d4", 32),
    ("cifar_mobilenetv1_w1d4_bsconvu", 32),
    ("cifar_mobilenetv2_w1d4_bsconvs_p1d6", 32),
    ("cifar_mobilenetv3_small_w1d2_bsconvs_p1d6", 32),
    ("vgg16_bn_bsconvu", 32),
    ("densenet121_bsconvu", 32),
    ("digits_cnn_bsconvu", 8),
    pytest.param("xception", 32, marks=slow),
    pytest.param("xception_bsconvu", 32, marks=slow),
    pytest.param("efficientnet_b0_bsconvs_p1d6", 32, marks=slow),
    pytest.param("mnasnet_bsconvs_p1d6", 32, marks=slow),
]


def assert_fuse_exact(model: nn.Module, x: torch.Tensor) -> nn.Module:
    model = randomized_batchnorms(model.double())
    fused = blueprint.fuse(model)
    with torch.no_grad():
        torch.testing.assert_close(fused(x.double()), model(x.double()), rtol=1e-10, atol=1e-10)
    return fused


def batchnorms(model):
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("name,size", ZOO)
def test_fuse_equals_unfused_zoo_model_in_eval_mode(name, size):
    assert name in list_models()
    torch.manual_seed(0)
    model = create(name, num_classes=5)
    channels = 1 if name.startswith("digits") else 3
    fused = assert_fuse_exact(model, torch.randn(1, channels, size, size))
    report = fused.fusion_report
    assert report.count("folded") > 0 and batchnorms(fused) == batchnorms(model) - report.count("folded")
    assert not fused.training and not hasattr(model, "fusion_report")  # a copy: the original is untouched
    assert all(not isinstance(m, blueprint.BSConvS) or len(list(m.children())) == 3 for m in fused.modules())


@pytest.mark.parametrize("layer,steps", [(blueprint.BSConvU, ["pw", "dw"]), (blueprint.DSConv, ["dw", "pw"])])
def test_fuse_folds_the_batchnorm_between_the_steps_into_the_first_step_and_its_bias(layer, steps):
    """BN inside BSConv-U goes into pw (not dw): the depthwise zero padding then sees zeros, exactly."""
    torch.manual_seed(0)
    model = nn.Sequential(layer(3, 6, 3, padding=1, with_bn=True), nn.BatchNorm2d(6), nn.ReLU())
    fused = assert_fuse_exact(model, torch.randn(2, 3, 7, 7))
    assert isinstance(fused[0], layer) and [n for n, _ in fused[0].named_children()] == steps
    assert getattr(fused[0], steps[0]).bias is not None and batchnorms(fused) == 0


def test_fuse_folds_a_batchnorm_before_an_unpadded_convolution_and_keeps_one_before_a_padded_one():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.BatchNorm2d(4), nn.Conv2d(4, 6, 1, groups=2), nn.ReLU(), nn.BatchNorm2d(6), nn.Conv2d(6, 6, 3, padding=1)
    )
    fused = assert_fuse_exact(model, torch.randn(2, 4, 5, 5))
    assert [s.action for s in fused.fusion_report.steps] == ["folded", "kept"]
    assert isinstance(fused[0], nn.Identity) and isinstance(fused[3], nn.BatchNorm2d)  # positions stay valid
    assert "fuse: folded 1, kept 1" in fused.fusion_report.table()


@pytest.mark.parametrize("m,m_sub,n", [(32, 4, 64), (32, 24, 64)])
def test_bsconv_s_merge_rule_picks_the_cheaper_form_M_N_vs_M_sub_M_plus_N(m, m_sub, n):
    """Eq. (8): one pointwise step W = W^A W^B where M N < M'(M + N), two where not; equal either way."""
    torch.manual_seed(0)
    model = nn.Sequential(
        blueprint.BSConvS(m, n, 3, stride=2, padding=1, p=m_sub / m, min_mid_channels=1, with_bn=True),
        nn.BatchNorm2d(n),
    )
    assert model[0].pw1.out_channels == m_sub
    fused = assert_fuse_exact(model, torch.randn(2, m, 6, 6))
    cheaper = m * n < m_sub * (m + n)
    assert merge_is_cheaper(m, m_sub, n) is cheaper
    assert isinstance(fused[0], blueprint.BSConvU if cheaper else blueprint.BSConvS)
    assert fused.fusion_report.steps[-1].action == ("merged" if cheaper else "kept two")


def test_fuse_equals_unfused_converted_model():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1, padding_mode="reflect"),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, 10),
    )
    blueprint.convert(net, to="bsconv_s", p=0.75, with_bn=True, exclude="0")
    blueprint.convert(net, to="bsconv_u")
    fused = assert_fuse_exact(net, torch.randn(2, 3, 9, 9))
    assert batchnorms(fused) == 0


def test_fuse_leaves_the_model_alone_and_runs_on_the_accel_backend_unchanged():
    torch.manual_seed(0)
    model = randomized_batchnorms(
        nn.Sequential(
            blueprint.BSConvU(3, 8, 3, padding=1, with_bn=True),
            nn.BatchNorm2d(8),
            blueprint.BSConvU(8, 8, 3, padding=1),
        )
    )
    fused = blueprint.fuse(model)
    assert batchnorms(model) == 2 and not hasattr(model, "fusion_report")
    x = torch.randn(2, 3, 6, 6)
    with torch.no_grad(), blueprint.use_backend("accel"):
        torch.testing.assert_close(fused(x), model(x), rtol=1e-4, atol=1e-5)


def test_fuse_rejects_what_is_not_a_module():
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got dict"):
        blueprint.fuse({})
