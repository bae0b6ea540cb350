"""The Table 4 models (VGG-16-BN, DenseNet-121, Xception, EfficientNet-B0, MnasNet) and their BSConv variants:
parameter counts of the standard architectures, the replacer rule of BSConv-U, BSConv-S's marking (Sec. 4.2),
FLOPs against the well-known figures, and a forward pass of every name.

Counts and FLOPs are taken on the meta device (no memory, no initialization); the forward passes run on
2x3x32x32 inputs (every model reduces by 32, so the global pool sees 1x1), VGG-16's 138M on the meta device.
"""

import pytest
import torch
import torch.nn as nn

from blueprint.layers import BSConvU, DSConv
from blueprint.models import create, list_models
from blueprint.models.efficientnet import StochasticDepth
from blueprint.models.variants import ToBSConvU
from blueprint.models.vgg import VGGConfig
from blueprint.profiling import profile
from blueprint.regularization import orthonormal_loss, regularized_weights

# The standard architectures at 1000 classes: torchvision's vgg16_bn, densenet121, efficientnet_b0, mnasnet1_0,
# and Chollet's Xception (Table 3 of his paper; Keras Applications / timm legacy_xception).
BASELINE_PARAMS = {
    "vgg16_bn": 138_365_992,
    "densenet121": 7_978_856,
    "xception": 22_855_952,
    "efficientnet_b0": 5_288_548,
    "mnasnet": 4_383_312,
}
# Input side, features before the global pool (channels, side) and the published multiply-adds.
GEOMETRY = {
    "vgg16_bn": (224, 512, 7, 15.47e9),
    "densenet121": (224, 1024, 7, 2.87e9),
    "xception": (299, 2048, 10, 8.40e9),
    "efficientnet_b0": (224, 1280, 7, 0.39e9),
    "mnasnet": (224, 1280, 7, 0.315e9),
}
HEAD_CHANNELS = {"vgg16_bn": 4096, "densenet121": 1024, "xception": 2048, "efficientnet_b0": 1280, "mnasnet": 1280}
BSCONVU = {"vgg16_bn": "vgg16_bn_bsconvu", "densenet121": "densenet121_bsconvu", "xception": "xception_bsconvu"}
BSCONVS = {"efficientnet_b0": "efficientnet_b0_bsconvs_p1d6", "mnasnet": "mnasnet_bsconvs_p1d6"}
NAMES = sorted([*BASELINE_PARAMS, *BSCONVU.values(), *BSCONVS.values()])


def meta_model(name, num_classes=1000):
    with torch.device("meta"):
        return create(name, num_classes=num_classes)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def replaced_convs(model):
    """The convolutions the replacer turns into BSConv-U: groups 1, 3x3 or 5x5, plus Xception's DSCs."""
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.groups == 1]
    regular = [(m.in_channels, m.out_channels, m.kernel_size[0]) for m in convs if m.kernel_size in ((3, 3), (5, 5))]
    dsc = [(m.dw.in_channels, m.pw.out_channels, m.dw.kernel_size[0]) for m in model.modules() if isinstance(m, DSConv)]
    return regular, dsc


def test_table4_names_are_registered():
    assert set(NAMES) <= set(list_models())


@pytest.mark.parametrize("name", sorted(BASELINE_PARAMS))
def test_baselines_have_the_standard_parameter_counts(name):
    assert n_params(meta_model(name)) == BASELINE_PARAMS[name]


@pytest.mark.parametrize("name", sorted(BASELINE_PARAMS))
def test_num_classes_changes_only_the_classifier(name):
    c = HEAD_CHANNELS[name]
    assert n_params(meta_model(name, num_classes=120)) == BASELINE_PARAMS[name] - 880 * (c + 1)


@pytest.mark.parametrize("name", sorted(BSCONVU))
def test_bsconvu_replaces_every_3x3_conv_and_dsc_with_eq6_7_counts(name):
    """Eq. (6)-(7): a regular M->N KxK conv (M N K^2 weights) becomes M N + N K^2; a DSC (M K^2 + M N) too."""
    base, variant = meta_model(name), meta_model(BSCONVU[name])
    regular, dsc = replaced_convs(base)
    assert replaced_convs(variant) == ([], [])
    assert sum(isinstance(m, BSConvU) for m in variant.modules()) == len(regular) + len(dsc)
    saved = sum(m * n * k * k - (m * n + n * k * k) for m, n, k in regular)
    saved += sum(m * k * k - n * k * k for m, n, k in dsc)  # the reversal moves the depthwise step from M to N
    assert n_params(variant) == BASELINE_PARAMS[name] - saved


def test_bsconvu_counts_vgg_and_densenet_fewer_xception_1568_more():
    """Table 4's caption holds for VGG and DenseNet; Xception's reversed DSCs outweigh its two stem convs."""
    counts = {name: n_params(meta_model(variant)) for name, variant in BSCONVU.items()}
    assert counts == {"vgg16_bn": 125_328_040, "densenet121": 6_095_016, "xception": 22_855_952 + 1_568}


@pytest.mark.parametrize("name", sorted(BASELINE_PARAMS))
def test_baselines_flops_within_5_percent_of_published_figures(name):
    side, _, _, macs = GEOMETRY[name]
    assert profile(meta_model(name), (3, side, side)).flops == pytest.approx(macs, rel=0.05)


@pytest.mark.parametrize("name", sorted(BASELINE_PARAMS))
def test_feature_map_before_global_pool(name):
    side, channels, out_side, _ = GEOMETRY[name]
    model = meta_model(name)
    pool_index = -2 if name in ("efficientnet_b0", "mnasnet") else -1  # these two end with pool, dropout
    features = model.backbone[:pool_index](torch.zeros(1, 3, side, side, device="meta"))
    assert tuple(features.shape) == (1, channels, out_side, out_side)


@pytest.mark.parametrize("name", sorted(BSCONVU))
def test_bsconvu_has_fewer_flops(name):
    side = GEOMETRY[name][0]
    assert profile(meta_model(BSCONVU[name]), (3, side, side)).flops < profile(meta_model(name), (3, side, side)).flops


@pytest.mark.parametrize("name", sorted(BSCONVS))
def test_bsconvs_same_architecture_with_projections_marked_for_eq9(name):
    """Sec. 4.2: the same parameters and FLOPs; every unit's linear projection is a W^B (M' = out <= M = mid)."""
    base, variant = meta_model(name), meta_model(BSCONVS[name])
    assert {k: v.shape for k, v in base.state_dict().items()} == {k: v.shape for k, v in variant.state_dict().items()}
    assert profile(variant, (3, 224, 224)).flops == profile(base, (3, 224, 224)).flops
    assert regularized_weights(base) == []
    marked = regularized_weights(variant)
    projections = [n for n, _ in variant.named_modules() if n.endswith(".project.conv")]
    assert [n for n, _ in marked] == [f"{n}.weight" for n in projections]
    assert len(marked) == {"efficientnet_b0": 16, "mnasnet": 17}[name]
    assert all(w.shape[2:] == (1, 1) and w.shape[0] < w.shape[1] for _, w in marked)


@pytest.mark.parametrize("name", sorted(BSCONVS))
def test_bsconvs_orthonormal_loss_is_positive_and_differentiable(name):
    torch.manual_seed(0)
    loss = orthonormal_loss(create(BSCONVS[name], num_classes=10))
    loss.backward()
    assert loss.item() > 0.0
    assert orthonormal_loss(create(name, num_classes=10)).item() == 0.0


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("vgg")])
def test_forward_pass_small_input(name):
    torch.manual_seed(0)
    model = create(name, num_classes=7)
    y = model(torch.randn(2, 3, 32, 32))  # train mode: BatchNorm batch statistics, stochastic depth
    assert y.shape == (2, 7) and torch.isfinite(y).all()
    model.eval()
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 7)


@pytest.mark.parametrize("name", ["vgg16_bn", "vgg16_bn_bsconvu"])
def test_vgg_forward_on_meta_device(name):
    assert meta_model(name, num_classes=7)(torch.zeros(2, 3, 32, 32, device="meta")).shape == (2, 7)


@pytest.mark.parametrize("transform", [None, ToBSConvU()])
def test_vgg_forward_with_narrow_classifier(transform):
    """The registered VGGs' code path on real numbers, with a 64-wide classifier instead of 4096."""
    torch.manual_seed(0)
    model = VGGConfig(hidden=64).build(num_classes=5)
    y = (model if transform is None else transform(model))(torch.randn(2, 3, 32, 32))
    assert y.shape == (2, 5) and torch.isfinite(y).all()


def test_stochastic_depth_drops_whole_samples_and_keeps_the_expectation():
    torch.manual_seed(0)
    drop = StochasticDepth(0.25)
    x = torch.ones(4000, 3, 2, 2, dtype=torch.float64)
    y = drop(x)
    per_sample = y.flatten(1)
    assert set(torch.unique(per_sample).tolist()) <= {0.0, 1.0 / 0.75}
    assert (per_sample == per_sample[:, :1]).all()
    assert y.mean().item() == pytest.approx(1.0, abs=0.05)
    assert torch.equal(drop.eval()(x), x)
    with pytest.raises(ValueError, match="p: expected a drop probability"):
        StochasticDepth(1.0)
