"""The book's Performance page: ``performance.md`` with its tables rendered from ``docs/measurements/`` now.

Each line ``<!-- measured: NAME -->`` of the template becomes the table that the benchmark itself prints for
those measurements (``format_report`` of ``blueprint.benchmarks.layers`` or ``.latency``, as ``--from-json``
does), so the figures on the page are the ones in the JSON files and no copy of them can drift. Each image
``![...](measurements/NAME.png)`` must be readable in the book's column (``blueprint.plotting.check_readable``):
the benchmarks that drew it only warned about small text, the book refuses it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
MEASUREMENTS = DOCS / "measurements"
TEMPLATE = DOCS / "performance.md"
MARK = re.compile(r"^<!-- measured: (\w+) -->$", flags=re.M)
IMAGE = re.compile(r"\]\(measurements/([^)]+\.png)\)")


def layers_table() -> str:
    """``blueprint bench layers``'s report of ``layers_2core.json``."""
    from blueprint.benchmarks import layers

    return layers.format_report(layers.read_json(MEASUREMENTS / "layers_2core.json"))


def latency_table() -> str:
    """``blueprint bench latency --from-json`` of every ``latency_*.json``, one run per pair, in name order."""
    from blueprint.benchmarks import latency

    return latency.format_report(latency.read_json(sorted(MEASUREMENTS.glob("latency_*.json"))))


TABLES = {"layers": layers_table, "latency": latency_table}


def performance_page() -> str:
    """The template with each ``<!-- measured: NAME -->`` line replaced by ``TABLES[NAME]()`` in a text block,
    once every image it shows has passed ``blueprint.plotting.check_readable``."""
    from blueprint import plotting

    def table(match):
        if match[1] not in TABLES:
            sys.exit(f"docs: {TEMPLATE.name} asks for table {match[1]!r}; there are {', '.join(TABLES)}")
        return f"```text\n{TABLES[match[1]]()}\n```"

    template = TEMPLATE.read_text()
    for name in IMAGE.findall(template):
        try:
            plotting.check_readable(MEASUREMENTS / name)
        except ValueError as error:
            sys.exit(f"docs: {TEMPLATE.name}: {error}")
    return MARK.sub(table, template)
