"""A checkpoint's layout belongs to ``blueprint.training.checkpoint``: the commands, the predictor and the training
loop neither ``torch.load`` a file nor read a checkpoint key; ``blueprint.sources`` loads other files (state_dicts,
pickled modules) but reads a checkpoint only through ``checkpoint``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from blueprint.training.checkpoint import Preprocessing, make_checkpoint

ROOT = Path(__file__).resolve().parents[1] / "blueprint"
READERS = [
    *sorted((ROOT / "commands").glob("*.py")),
    ROOT / "sources.py",
    ROOT / "prediction.py",
    ROOT / "training" / "loop.py",
]


def checkpoint_keys() -> set[str]:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    return set(make_checkpoint(model, optimizer, scaler, 1, 0.5, [], [], {}, "x", 2, Preprocessing((1, 2, 2))))


@pytest.mark.parametrize("path", READERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reader_loads_a_file_or_names_a_checkpoint_key(path):
    keys = checkpoint_keys()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        loads = isinstance(node, ast.Attribute) and node.attr == "load" and getattr(node.value, "id", "") == "torch"
        if loads and path.name != "sources.py":
            pytest.fail(f"{path.name}:{node.lineno} calls torch.load")
        read = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            read = node.slice.value
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get" and node.args:
            read = getattr(node.args[0], "value", None)
        if read in keys and not _is_not_a_checkpoint(node):
            pytest.fail(f"{path.name}:{node.lineno} reads the checkpoint key {read!r}")


def _is_not_a_checkpoint(node) -> bool:
    """A metrics row (``row["epoch"]``, ``last["epoch"]``) or an ONNX file's metadata (``meta``)."""
    target = node.value if isinstance(node, ast.Subscript) else node.func.value
    return getattr(target, "id", "") in {"row", "last", "meta"}
