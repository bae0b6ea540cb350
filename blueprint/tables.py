"""The one fixed-width text table every report of blueprint prints (bench, profile, convert, analyze, demo).

``format_table(header, rows)`` pads each column to its widest cell, the first column left-aligned and the
others right-aligned unless ``align`` says otherwise, and draws a rule under the header. Rows given as
``footer`` (totals) follow a second rule. Cells are strings: each caller formats its own numbers.
"""

from __future__ import annotations

from collections.abc import Sequence


def format_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    align: str | None = None,
    footer: Sequence[Sequence[str]] = (),
) -> str:
    """The table as one string; ``align`` has one character per column, ``<`` (left) or ``>`` (right)."""
    columns = len(header)
    align = align or "<" + ">" * (columns - 1)
    if len(align) != columns or set(align) - {"<", ">"}:
        raise ValueError(f"align: expected {columns} characters of '<' or '>', got {align!r}")
    every = [tuple(header), *map(tuple, rows), *map(tuple, footer)]
    for row in every:
        if len(row) != columns:
            raise ValueError(f"rows: expected {columns} cells per row like the header {tuple(header)}, got {row}")
    widths = [max(len(row[i]) for row in every) for i in range(columns)]

    def line(row) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)).rstrip()

    rule = "-" * len(line(header))
    lines = [line(header), rule, *map(line, rows)]
    if footer:
        lines += [rule, *map(line, footer)]
    return "\n".join(lines)
