"""``blueprint.verification.engine`` from Python: what the command prints is what a caller gets, a case that
raises is a failure with its message (null in the JSON), and the cases of an entry depend on the seed alone."""

import json
import math

import pytest

from blueprint.verification import EQUATIONS, check, run, select, write_json
from reference.cases import draw_w_b
from reference.equations import Equation


def _raising(case):
    raise RuntimeError("no kernel for this shape")


RAISES = Equation("raises", "Eq. (9)", "a measure that raises", ("reference",), draw_w_b, _raising)


def test_run_yields_one_passing_summary_per_selected_entry():
    summaries = list(run(select(EQUATIONS, ["eq9*"]), seed=0, cases=3, show_progress=False))
    assert [s.key for s in summaries] == ["eq9", "eq9-fd", "eq9-accel", "eq9-torch"]
    assert all(s.passed and s.cases == 3 and s.max_error <= s.tolerance for s in summaries)


def test_a_case_that_raises_fails_with_its_message_and_an_infinite_error(tmp_path):
    summary = check(RAISES, seed=0, cases=2)
    assert summary.failures == 2 and not summary.passed and math.isinf(summary.max_error)
    assert summary.first_failure["case"] == 0
    assert summary.first_failure["message"] == "RuntimeError: no kernel for this shape"
    write_json(str(tmp_path / "v.json"), 0, 2, [summary])
    result = json.loads((tmp_path / "v.json").read_text())["results"][0]
    assert result["max_error"] is None and result["first_failure"]["error"] is None and result["passed"] is False


def test_a_case_is_the_same_for_a_seed_and_differs_for_another():
    (entry,) = select(EQUATIONS, ["eq9"])
    drawn = []
    for seed in (5, 5, 6):
        recording = Equation(
            *(getattr(entry, k) for k in ("key", "name", "statement", "backends", "draw")),
            measure=lambda case: drawn.append(case.describe()) or 0.0,
        )
        check(recording, seed=seed, cases=1)
    assert drawn[0] == drawn[1] != drawn[2]


@pytest.mark.parametrize("cases", [0, 1.5, True])
def test_cases_is_checked_before_any_entry_runs(cases):
    with pytest.raises(ValueError, match=r"^cases: expected an int >= 1, got "):
        run([RAISES], seed=0, cases=cases)
