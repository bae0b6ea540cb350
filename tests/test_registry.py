"""The zoo's registry: names, input sizes and errors."""
import pytest

from blueprint.cli import main
from blueprint.models import create, input_size, list_models
from blueprint.models.registry import add


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
        add("digits_cnn", lambda num_classes: None)


def test_list_models_filters_by_shell_pattern():
    assert list_models("digits_cnn*") == ["digits_cnn", "digits_cnn_bsconvs_p1d4", "digits_cnn_bsconvu"]


def test_default_num_classes_is_cifar10s_for_cifar_names_else_imagenets():
    from blueprint.models import default_num_classes

    assert default_num_classes("cifar_resnet20") == 10 and default_num_classes("digits_cnn") == 10
    assert default_num_classes("resnet18") == 1000
    assert sum(p.numel() for p in create("cifar_resnet110_bsconvu").parameters()) == 238_960  # Table 2, CIFAR-10
