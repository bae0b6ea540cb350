"""The zoo keeps what ``tests/zoo_pins.json`` pinned (see ``tests/zoo_pins.py``): for every name its classes,
input size, parameter count, ``state_dict`` layout, module paths and orthonormal-loss weights; for representative
models of every family and variant the forward computation for given weights and the initialization each
parameter gets, which follows the official implementation's order (initialize the baseline, then swap in BSConv);
and the parameter table ``blueprint models`` prints (``blueprint.models.parameters``) matches the builds.
"""

import json
import math

import numpy as np
import pytest

from blueprint.models import list_models
from blueprint.models.parameters import TABLE, parameter_count
from tests.zoo_pins import FORWARD_MODELS, PINS, build, init_statistics, layout, logits

PINNED = json.loads(PINS.read_text())


def test_the_zoo_registers_exactly_the_pinned_names_and_its_parameter_table_has_them():
    assert list_models() == sorted(PINNED["layouts"]) == sorted(json.loads(TABLE.read_text()))


@pytest.mark.parametrize("name", sorted(PINNED["layouts"]))
def test_every_name_keeps_its_classes_input_size_parameters_and_layout(name):
    """The build on the meta device against the pins, and against the table ``blueprint models`` prints from."""
    found = layout(name)
    assert found == PINNED["layouts"][name]
    assert parameter_count(name) == found["params"], "rewrite the table: python -m blueprint.models.parameters"


def same_initialization(pinned: list[float], found: list[float], n: int) -> bool:
    """Constant tensors (std 0) exactly; random ones of n >= 64 elements by mean and std within 5 standard errors
    of the difference of two samples (so Kaiming, PyTorch's default and Xavier, 1.4x to 2.5x apart, differ);
    a single value by whether it is zero."""
    (mean0, std0), (mean1, std1) = pinned, found
    if n == 1:
        return (mean0 == 0.0) == (mean1 == 0.0)
    if std0 == 0.0:
        return std1 == 0.0 and mean1 == mean0
    if n < 64:
        return std1 > 0.0
    return abs(math.log(std1 / std0)) <= 5 / math.sqrt(n) + 1e-3 and abs(mean1 - mean0) <= 5 * std0 * math.sqrt(2 / n)


@pytest.mark.parametrize("case", FORWARD_MODELS)
def test_initialization_and_forward_computation_are_pinned(case):
    model = build(case)
    sizes = {k: p.numel() for k, p in model.named_parameters()}
    found, pinned = init_statistics(model), PINNED["init"][case]
    assert sorted(found) == sorted(pinned)
    differ = [k for k in pinned if not same_initialization(pinned[k], found[k], sizes[k])]
    assert differ == []
    expected = np.array(PINNED["forward"][case])
    # float32 logits: the tolerance is float32 rounding (threads and BLAS paths may order the sums differently)
    np.testing.assert_allclose(logits(model, case), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
