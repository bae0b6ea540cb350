"""Deployment: a model to an ONNX file, and that file in an onnxruntime session.

``export_onnx`` uses PyTorch's ``torch.export``-based ONNX exporter with a dynamic batch dimension, so one
file serves batch 1 and batch 32 alike. Under ONNX export the BSConv layers run their plain PyTorch steps
(``blueprint.backend.fusable``), so a fused or unfused model exports as the convolutions it is made of.
onnx, onnxscript (the exporter's) and onnxruntime are the ``export`` extra of pyproject.toml.
"""
from __future__ import annotations

import logging
import warnings

import torch
import torch.nn as nn

EXTRA = "pip install 'blueprint-bsconv[export]'"


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ValueError(f"ONNX export needs the {module} package, which is not installed ({EXTRA})") from None


def export_onnx(model: nn.Module, path: str, input_size: tuple[int, int, int]) -> None:
    """Write ``model`` (put in eval mode) to ``path`` as ONNX, input (B, C, H, W) with B dynamic."""
    _require("onnx"), _require("onnxscript")
    x = torch.randn(2, *input_size)  # B,C,H,W; 2, since torch.export fixes a dimension given as 1
    batch = torch.export.Dim("batch", min=1, max=4096)
    registry = logging.getLogger("torch.onnx._internal.exporter._registration")  # "torchvision is not installed"
    level = registry.level
    registry.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # deprecations inside torch.export, not ours to fix
            warnings.simplefilter("ignore", DeprecationWarning)
            program = torch.onnx.export(model.eval(), (x,), dynamo=True, dynamic_shapes=({0: batch},), verbose=False)
    finally:
        registry.setLevel(level)
    program.save(path)


def onnx_session(path: str, threads: int, spinning: bool = True):
    """An onnxruntime CPU session for ``path`` running on ``threads`` threads (one graph at a time). Without
    ``spinning`` its worker threads sleep as soon as a run ends instead of waiting busily for the next one,
    so they take no core from other work in between (what a benchmark alternating runtimes needs)."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def run_onnx(session, x: torch.Tensor) -> torch.Tensor:
    """One forward of ``session`` on ``x`` (B, C, H, W), as a tensor."""
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    return torch.from_numpy(y)
