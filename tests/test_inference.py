"""The accel inference engine (``blueprint.inference``) computes what the model computes.

On a model of every zoo family and variant kind, fused with BatchNorm statistics drawn at random (so that
folding changes the weights), the engine's logits equal eager PyTorch's to 1e-4 relative in float32 (1e-10
in float64); what it recognizes runs fused, the rest falls back to PyTorch, and a module it does not know
is run as it is.
"""

import pytest
import torch
import torch.nn as nn

import blueprint
from blueprint.inference import InferenceEngine
from blueprint.models import create, input_size

CASES = [  # (zoo name, input size or None for the zoo's, the fewest fused steps the plan must have)
    ("cifar_resnet20", None, 19),  # its regular 3 x 3 convolutions (Eq. 1) as fused conv steps
    ("cifar_resnet20_bsconvu", None, 19),
    ("cifar_resnet20_bsconvs_p1d4", None, 19),  # each BSConv-S one step, W = W^A W^B (Eq. 8)
    ("cifar_preresnet20_bsconvu", None, 19),
    ("cifar_wrn16_1_bsconvu", None, 13),
    ("cifar_mobilenetv1_w1d4", None, 14),  # its DSC units, depthwise then pointwise (Sec. 4.1)
    ("cifar_mobilenetv1_w1d4_bsconvu", None, 14),  # the regular stem, then 13 BSConv-U
    ("cifar_mobilenetv2_w1d2_bsconvs_p1d6", None, 19),  # each inverted residual one step, its projection merged
    ("cifar_mobilenetv3_small_w1d2_bsconvs_p1d6", None, 16),  # hard swish and squeeze-excite channels-last too
    ("cifar_tiny_cnn_bsconvu", None, 0),
    ("digits_cnn_bsconvu", None, 0),
    ("digits_cnn_bsconvs_p1d4", None, 0),
    ("resnet10_bsconvu", (3, 64, 64), 8),
    ("mobilenetv1_w1d4", (3, 64, 64), 14),
    ("mobilenetv1_w1d4_bsconvu", (3, 64, 64), 14),
    ("efficientnet_b0_bsconvs_p1d6", (3, 64, 64), 30),  # MBConv units with swish and squeeze-excite
    ("mnasnet_bsconvs_p1d6", (3, 64, 64), 17),
    ("densenet121_bsconvu", (3, 64, 64), 4),
    ("vgg16_bn_bsconvu", (3, 32, 32), 13),
    ("xception_bsconvu", (3, 96, 96), 4),
]


def with_random_batchnorm_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(m.bias.shape, generator=g) - 0.5)
    return model.eval()


def relative_error(y, expected):
    return ((y - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize("name,size,fused_steps", CASES)
def test_engine_logits_equal_eager_on_every_family(name, size, fused_steps):
    torch.manual_seed(0)
    model = with_random_batchnorm_statistics(create(name))
    x = torch.randn(2, *(size or input_size(name)))
    engine = InferenceEngine(blueprint.fuse(model))
    with torch.no_grad():
        expected, y = model(x), engine(x)
    assert y.shape == expected.shape
    assert relative_error(y, expected) < 1e-4
    assert engine.summary().count("fused ") >= fused_steps, engine.summary()


def test_dense_convolutions_run_as_fused_conv_steps_with_their_epilogue():
    """ResNet-20's stem and 18 3 x 3 convolutions run on ``accel.fused_nhwc.conv``, each unit's second one with the
    residual sum and ReLU in its epilogue; a grouped convolution that is not depthwise stays on PyTorch."""
    engine = InferenceEngine(blueprint.fuse(create("cifar_resnet20").eval()))
    lines = engine.summary().splitlines()
    assert sum(line.strip() == "fused conv, act relu" for line in lines) == 19, engine.summary()
    grouped = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1, groups=2), nn.ReLU()).eval()
    plan = InferenceEngine(grouped).summary().splitlines()
    assert plan[0].strip() == "torch Conv2d", plan
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        assert torch.allclose(InferenceEngine(grouped)(x), grouped(x), atol=1e-6)


def test_wide_dense_convolutions_on_large_float32_batches_run_on_pytorch_and_equal_eager():
    """A conv step runs on PyTorch's convolution for >= 48 input channels on planes of >= 256 pixels and batches of
    >= 8 float32 images (``WIDE_CONV_CHANNELS``), on the fused kernel otherwise; both equal eager."""
    from blueprint.inference import Activation

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(48, 20, 3, padding=1), nn.ReLU(), nn.Conv2d(20, 24, 3, padding=1)).eval()
    engine = InferenceEngine(model)
    wide, narrow = engine.plan.steps
    for batch, size, dtype, on_torch in [
        (8, 16, torch.float32, True),
        (2, 16, torch.float32, False),
        (8, 8, torch.float32, False),
        (8, 16, torch.float64, False),
    ]:
        x = torch.randn(batch, 48, size, size, dtype=dtype)
        assert wide._on_torch(Activation(nchw=x)) is on_torch
        assert not narrow._on_torch(Activation(nchw=torch.randn(batch, 20, size, size, dtype=dtype)))
        with torch.no_grad():
            y = engine(x) if dtype == torch.float32 else InferenceEngine(model.double())(x)
            assert relative_error(y, model(x)) < (1e-4 if dtype == torch.float32 else 1e-10)
        model.float()
    wrn = with_random_batchnorm_statistics(create("cifar_wrn16_4"))  # pre-activation units: residuals on PyTorch
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        assert relative_error(InferenceEngine(blueprint.fuse(wrn))(x), wrn(x)) < 1e-4


def test_engine_in_float64_equals_eager_to_1e10():
    model = with_random_batchnorm_statistics(create("cifar_resnet20_bsconvu")).double()
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        assert relative_error(InferenceEngine(blueprint.fuse(model))(x), model(x)) < 1e-10


def test_batch_of_one_runs_bands_of_rows_and_equals_eager():
    model = with_random_batchnorm_statistics(create("cifar_mobilenetv1_w1d4_bsconvu"))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert relative_error(InferenceEngine(blueprint.fuse(model))(x), model(x)) < 1e-4


class Doubler(nn.Module):
    def forward(self, x):
        return 2 * x


def test_a_module_the_engine_does_not_know_runs_on_pytorch_between_fused_steps():
    model = nn.Sequential(
        blueprint.BSConvU(3, 16, 3, padding=1, bias=True), nn.ReLU(), Doubler(), blueprint.BSConvU(16, 8, 3, padding=1)
    ).eval()
    engine = InferenceEngine(model)
    assert engine.summary().splitlines() == ["fused bsconv_u, act relu", "torch Doubler", "fused bsconv_u"]
    x = torch.randn(2, 3, 9, 7)
    with torch.no_grad():
        assert relative_error(engine(x), model(x)) < 1e-5


def test_bsconv_s_runs_merged_where_cheaper_on_the_tiles_else_as_two_steps_and_equals_eager():
    """Eq. (12)-(14): 16 channels with M' = 4 (padded to 16) run as one BSConv-U step with W = W^A W^B (Eq. 8);
    64 channels with M' = 16, which two products do in half the multiply-adds, as a 1 x 1 step for W^B and a BSConv-U
    step for W^A, its W^B joining the step before as that step's projection; biases on every step, strides 1 and 2,
    dilation 2, and the ReLUs merged into the steps before them."""
    torch.manual_seed(0)
    model = nn.Sequential(
        blueprint.BSConvS(16, 16, 3, padding=1, p=0.25),
        nn.ReLU(),
        blueprint.BSConvS(16, 64, 3, stride=2, padding=1, p=0.25),
        blueprint.BSConvS(64, 64, 3, padding=2, dilation=2, p=0.25),
        nn.ReLU(),
    ).eval()
    for layer in (m for m in model if isinstance(m, blueprint.BSConvS)):
        for conv in layer:
            conv.bias = nn.Parameter(torch.randn(conv.out_channels) * 0.1)
    engine = InferenceEngine(model)
    assert engine.summary().splitlines() == [
        "fused bsconv_u, act relu",
        "fused bsconv_u + projection",
        "fused bsconv_u, act relu",
    ]
    x = torch.randn(2, 16, 11, 9)
    with torch.no_grad():
        assert relative_error(engine(x), model(x)) < 1e-5


def test_hard_swish_swish_squeeze_excite_and_a_lone_depthwise_step_run_channels_last_and_equal_eager():
    """MobileNetV3's and EfficientNet's pieces: hard swish in a fused step's epilogue, or as its own channels-last
    step where no step before takes it, and swish always as its own; a 5 x 5 stride-2 depthwise step (Eq. 7) that no
    1 x 1 step before it can take, on accel's channels-last kernel; squeeze-excite; an expansion with hard swish, a
    depthwise step and a projection in one fused step (hard swish on the ring's rows and after the projection); 20
    and 24 channels, so the padded channels must stay 0 through every step."""
    from blueprint.models.common import ConvBlock, SEUnit

    torch.manual_seed(0)
    model = with_random_batchnorm_statistics(
        nn.Sequential(
            ConvBlock(3, 20, 1, activation="hswish"),
            nn.Hardswish(),
            ConvBlock(20, 20, 5, stride=2, groups=20, bias=True, activation="hswish"),
            SEUnit(20, 8),
            ConvBlock(20, 24, 1, activation="hswish"),
            ConvBlock(24, 24, 3, groups=24, activation="relu"),
            ConvBlock(24, 16, 1, activation=None),
            nn.Hardswish(),
            nn.SiLU(),
        )
    )
    engine = InferenceEngine(blueprint.fuse(model))
    assert engine.summary().splitlines() == [
        "fused pointwise, act hswish",
        "hswish",
        "depthwise",
        "hswish",
        "squeeze-excite",
        "fused bsconv_u + projection, mid hswish, dw relu, act hswish",
        "swish",
    ]
    x = torch.randn(2, 3, 13, 11)
    with torch.no_grad():
        y = engine(x)
        assert relative_error(y, model(x)) < 1e-5
        model = model.double()
        assert relative_error(InferenceEngine(blueprint.fuse(model))(x.double()), model(x.double())) < 1e-10


def test_bad_models_and_inputs_are_named():
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module"):
        InferenceEngine("cifar_resnet20")
    with pytest.raises(ValueError, match="model: expected a model in eval mode"):
        InferenceEngine(create("cifar_resnet20").train())
    engine = InferenceEngine(create("cifar_resnet20").eval())
    with pytest.raises(ValueError, match=r"x: expected a \(B, C, H, W\) tensor"):
        engine(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match="x: expected a float32 or float64 CPU tensor"):
        engine(torch.zeros(1, 3, 32, 32, dtype=torch.int64))


def test_reused_buffers_never_change_an_output_that_is_still_held():
    model = with_random_batchnorm_statistics(create("cifar_resnet20_bsconvu"))
    engine = InferenceEngine(blueprint.fuse(model))
    x1, x2 = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        first = engine(x1)
        kept = first.clone()
        second, again = engine(x2), engine(x1)
        assert torch.equal(first, kept), "a later call wrote into an earlier result"
        assert torch.equal(again, first) and relative_error(second, model(x2)) < 1e-4
    assert sum(len(a) for a in engine.pool.arrays.values()) < 2 * len(engine.summary().splitlines())
