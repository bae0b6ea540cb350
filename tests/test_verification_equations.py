"""Every entry of ``blueprint verify`` (the paper's equations and the backends' agreement) as a property test.

The entries draw their cases through hypothesis (``HypothesisRandom``), so a failing case shrinks to a
small one. Each entry runs as many examples as its cost allows; together they are most of the suite's
10,000 and more property cases (the count is printed at the end of a run).
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blueprint.verification import EQUATIONS
from tests.hypothesis_random import HypothesisRandom

EXAMPLES = {  # examples per entry, by the cost of one case
    1400: ("eq9", "eq9-fd", "pc1", "rank1", "eq9-accel", "eq9-torch"),
    60: (
        "conv2d-accel",
        "dsc-accel",
        "bsconv_u-accel",
        "bsconv_s-accel",
        "conv2d-torch",
        "dsc-torch",
        "bsconv_u-torch",
        "bsconv_s-torch",
        "dsc-torch-accel",
        "bsconv_u-torch-accel",
        "bsconv_s-torch-accel",
    ),
    30: (
        "eq3",
        "eq2-7",
        "eq8-14",
        "sec4.1",
        "conv2d-naive",
        "dsc-naive",
        "bsconv_u-naive",
        "bsconv_s-naive",
        "conv2d-fd",
        "dsc-fd",
        "bsconv_u-fd",
        "bsconv_s-fd",
    ),
}
BY_KEY = {e.key: e for e in EQUATIONS}


def _property_test(examples: int):
    @pytest.mark.parametrize("key", EXAMPLES[examples])
    @settings(max_examples=examples)
    @given(data=st.data())
    def test(key, data):
        equation = BY_KEY[key]
        case = equation.draw(HypothesisRandom(data))
        error, tolerance = equation.measure(case), equation.tolerance(case)
        assert error <= tolerance, f"{equation.name} ({key}): error {error:.3g} > {tolerance:.0e} on {case.describe()}"

    return test


test_equation_holds_on_1400_cases = _property_test(1400)
test_equation_holds_on_60_cases = _property_test(60)
test_equation_holds_on_30_cases = _property_test(30)


def test_every_entry_runs_in_the_property_tests():
    assert sorted(k for keys in EXAMPLES.values() for k in keys) == sorted(BY_KEY)
