"""``blueprint.tables.format_table``: the one table layout of every report."""

import pytest

from blueprint.tables import format_table


def test_columns_are_padded_to_the_widest_cell_first_left_then_right():
    text = format_table(["model", "params"], [["a", "1,000"], ["longer_name", "7"]])
    assert text.splitlines() == [
        "model        params",
        "-------------------",
        "a             1,000",
        "longer_name       7",
    ]


def test_footer_rows_follow_a_second_rule_and_align_is_honoured():
    text = format_table(["x", "y"], [["1", "2"]], align="<<", footer=[["total", "3"]])
    assert text.splitlines() == ["x      y", "--------", "1      2", "--------", "total  3"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(header=["a", "b"], rows=[["1"]]), "rows: expected 2 cells per row"),
        (dict(header=["a", "b"], rows=[], align="<"), "align: expected 2 characters"),
    ],
)
def test_malformed_tables_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        format_table(**kwargs)
