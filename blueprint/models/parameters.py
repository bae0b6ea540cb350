"""Parameter counts of the registered names, from a table shipped with the package (``parameters.json``).

Building all of the zoo's models, even on PyTorch's ``meta`` device, takes half a minute; the table holds each
registered name's count at its default class count, so that ``blueprint models`` lists the zoo at once.
``tests/test_zoo_pins.py`` holds every row to a real build. A name the table lacks (one registered by a user)
or another class count is counted by building on the meta device. After changing a model, write the table
again: ``.venv/bin/python -m blueprint.models.parameters``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import torch

from blueprint.models.common import num_params
from blueprint.models.registry import create, default_num_classes, list_models

TABLE = Path(__file__).with_name("parameters.json")


@functools.cache
def _table() -> dict[str, int]:
    return json.loads(TABLE.read_text())


def built_parameter_count(name: str, num_classes: int | None = None) -> int:
    """The parameters of ``create(name, num_classes)``, built on the meta device (no memory, no initialization)."""
    with torch.device("meta"):
        return num_params(create(name, num_classes=num_classes))


def parameter_count(name: str, num_classes: int | None = None) -> int:
    """The parameters of zoo model ``name`` with ``num_classes`` (default: its own): from the table where it
    has the name at that class count, else ``built_parameter_count``."""
    if num_classes in (None, default_num_classes(name)) and name in _table():
        return _table()[name]
    return built_parameter_count(name, num_classes)


def write_table() -> None:
    """Write ``parameters.json``: every registered name's ``built_parameter_count`` at its default classes."""
    counts = {name: built_parameter_count(name) for name in list_models()}
    TABLE.write_text(json.dumps(counts, indent=0, sort_keys=True) + "\n")
    print(f"wrote {TABLE}: {len(counts)} models")


if __name__ == "__main__":
    write_table()
