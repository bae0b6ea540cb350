"""Deployment: a model to an ONNX file (with its preprocessing), and that file in an onnxruntime session.

``with_normalization`` puts a model's input normalization in front of it, so the exported graph takes images with
intensities in [0, 1] as they are; ``METADATA`` names what ``export_onnx`` records in the file (``onnx_metadata``
reads it back). ``export_onnx`` uses PyTorch's ``torch.export``-based ONNX exporter with a dynamic batch dimension,
so one file serves batch 1 and batch 32 alike. Under ONNX export the BSConv layers run their plain PyTorch steps
(``blueprint.backend.fusable``), so a fused or unfused model exports as the convolutions it is made of. onnx,
onnxscript (the exporter's) and onnxruntime are the ``export`` extra of pyproject.toml.
"""

from __future__ import annotations

import json
import logging
import warnings

import torch
import torch.nn as nn

from blueprint.paths import atomic_write

EXTRA = "pip install 'blueprint-bsconv[export]'"


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"ONNX export needs the {module} package, which is not installed: {EXTRA}") from None


class Normalized(nn.Module):
    """``model((x - mean) / std)`` per channel: x (B, C, H, W) with intensities in [0, 1]."""

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))  # 1,C,1,1
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))  # 1,C,1,1

    def forward(self, x):
        return self.model((x - self.mean) / self.std)


def with_normalization(model: nn.Module, mean, std) -> nn.Module:
    """``model`` with its input normalization in front (``Normalized``), in eval mode."""
    return Normalized(model, mean, std).eval()


# what export_onnx records in the file's metadata_props, each value as JSON
METADATA = ("input_size", "resize", "class_names", "mean", "std", "normalized_inside")


def export_onnx(model: nn.Module, path: str, input_size: tuple[int, int, int], metadata: dict | None = None) -> None:
    """Write ``model`` (put in eval mode) to ``path`` as ONNX, input (B, C, H, W) with B dynamic, atomically
    (``blueprint.paths.atomic_write``: a failed write leaves the previous file). ``metadata`` (keys of
    ``METADATA``) goes into the file's ``metadata_props`` as JSON values."""
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
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        if key not in METADATA:
            raise ValueError(f"metadata: expected keys among {', '.join(METADATA)}, got {key!r}")
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    atomic_write(path, lambda f: f.write(proto.SerializeToString()))


def onnx_metadata(session) -> dict:
    """The ``METADATA`` an onnxruntime ``session``'s file records (what ``export_onnx`` wrote), decoded."""
    stored = session.get_modelmeta().custom_metadata_map
    return {key: json.loads(stored[key]) for key in METADATA if key in stored}


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
