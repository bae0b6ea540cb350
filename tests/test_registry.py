"""The zoo's registry: names made from (config, transform), registering your own, input sizes and errors."""

from dataclasses import dataclass

import pytest
import torch.nn as nn

from blueprint.cli import main
from blueprint.layers import BSConvU
from blueprint.models import create, digits, input_size, list_models, register
from blueprint.models.common import Classifier, ConvBlock, official_init
from blueprint.models.parameters import parameter_count
from blueprint.models.registry import entry
from blueprint.models.variants import ToBSConvS, ToBSConvU


def test_input_size_is_the_registered_one_else_cifar_or_imagenet():
    assert input_size("digits_cnn") == (1, 8, 8)
    assert input_size("cifar_resnet20") == (3, 32, 32)
    assert input_size("resnet18") == (3, 224, 224)


def test_profile_command_uses_the_registered_input_size(capsys):
    assert main(["profile", "digits_cnn", "--num-classes", "10", "--summary"]) == 0
    assert "input 1x8x8" in capsys.readouterr().out


def test_unknown_name_and_bad_num_classes_are_refused():
    with pytest.raises(ValueError, match="model: unknown name 'resnet19'"):
        create("resnet19")
    with pytest.raises(ValueError, match="num_classes: expected a positive int, got 0"):
        create("digits_cnn", num_classes=0)


def test_a_name_registers_once():
    with pytest.raises(ValueError, match="registered twice"):
        register(digits.CONFIGS[0])


@dataclass(frozen=True)
class TwoConvConfig:
    """A user's own family: two 3x3 conv blocks of ``width`` channels and the zoo's classifier."""

    width: int = 8

    @property
    def name(self) -> str:
        return f"cifar_twoconv_w{self.width}"

    def build(self, num_classes: int) -> nn.Module:
        features = nn.Sequential(
            ConvBlock(3, self.width, 3), ConvBlock(self.width, self.width, 3), nn.AdaptiveAvgPool2d(1)
        )
        classifier = Classifier(self.width, num_classes)
        official_init(features, classifier)
        return nn.Sequential(features, classifier, nn.Flatten(1))


def test_a_users_config_and_transform_register_like_the_zoos_own(register_test_model):
    """The name is config.name + transform.suffix; create(name) is transform(config.build(num_classes))."""
    assert register(TwoConvConfig()) == "cifar_twoconv_w8"
    assert register(TwoConvConfig(), ToBSConvU()) == "cifar_twoconv_w8_bsconvu"
    assert register(TwoConvConfig(16), ToBSConvS(1 / 2), name="mine", num_classes=3) == "mine"
    assert list_models("cifar_twoconv*") == ["cifar_twoconv_w8", "cifar_twoconv_w8_bsconvu"]
    baseline, variant = create("cifar_twoconv_w8"), create("cifar_twoconv_w8_bsconvu")
    assert not any(isinstance(m, BSConvU) for m in baseline.modules())
    assert [type(block.conv) for block in variant[0][:2]] == [BSConvU, BSConvU]
    assert entry("mine").config == TwoConvConfig(16) and entry("mine").transform == ToBSConvS(1 / 2)
    assert (input_size("mine"), create("mine")[1].conv.out_channels) == ((3, 224, 224), 3)
    assert parameter_count("cifar_twoconv_w8_bsconvu") == sum(p.numel() for p in variant.parameters())  # built


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((object(),), TypeError, "config: expected a model config with a build"),
        ((TwoConvConfig(), "bsconv_u"), TypeError, "transform: expected None or a callable"),
        ((TwoConvConfig(), lambda model: model), TypeError, "name: expected a name"),
    ],
)
def test_registering_something_else_names_the_argument(args, error, message, register_test_model):
    with pytest.raises(error, match=f"^{message}"):
        register(*args)


def test_list_models_filters_by_shell_pattern():
    assert list_models("digits_cnn*") == ["digits_cnn", "digits_cnn_bsconvs_p1d4", "digits_cnn_bsconvu"]


def test_default_num_classes_is_cifar10s_for_cifar_names_else_imagenets():
    from blueprint.models import default_num_classes

    assert default_num_classes("cifar_resnet20") == 10 and default_num_classes("digits_cnn") == 10
    assert default_num_classes("resnet18") == 1000
    assert sum(p.numel() for p in create("cifar_resnet110_bsconvu").parameters()) == 238_960  # Table 2, CIFAR-10
