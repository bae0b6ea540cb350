"""Where a model for analysis or profiling comes from: a zoo name, a module, or a file.

``load_source`` accepts

- an ``nn.Module`` or a state_dict (a mapping of names to tensors), returned as they are;
- a path to a file written by ``torch.save``: a state_dict, a checkpoint dict holding one under a usual key
  (``state_dict``, ``model``, ``model_state_dict``, ``model_state``, ``net``), or a whole pickled module;
- otherwise a zoo name for ``blueprint.models.create`` (a freshly initialized model: random weights).

With ``model=NAME`` the weights from the file are loaded into that zoo architecture (strictly), which gives
a module again (needed for a forward pass); a checkpoint of ``blueprint train`` names its architecture
(``model_name``, ``num_classes``), which is used when ``model`` is not given. ``open_source`` also says what
was loaded (``Source``). Loading a whole pickled module runs ``torch.load`` with
``weights_only=False``, which executes code from the file: use it on files you trust.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn

from blueprint.models import input_size, list_models
from blueprint.names import unknown_name_error
from blueprint.paths import describe

STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model_state", "model", "net")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".tar")


def default_input_size(name: str | None) -> tuple[int, int, int]:
    """The zoo's input size for ``name`` (``blueprint.models.input_size``), also for a file named after a model."""
    return input_size(os.path.basename(str(name or "")))


def _is_state_dict(obj) -> bool:
    return isinstance(obj, Mapping) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def extract_state_dict(obj, origin: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The state_dict inside a checkpoint object; strips DistributedDataParallel's ``module.`` prefix."""
    if not _is_state_dict(obj):
        inner = next((obj[k] for k in STATE_DICT_KEYS if isinstance(obj, Mapping) and k in obj), None)
        if isinstance(inner, nn.Module):
            inner = inner.state_dict()
        if not _is_state_dict(inner):
            keys = list(obj)[:8] if isinstance(obj, Mapping) else type(obj).__name__
            raise ValueError(
                f"{origin}: expected a state_dict or a checkpoint dict holding one under one of "
                f"{STATE_DICT_KEYS}, got {keys}"
            )
        obj = inner
    prefix = "module."
    if all(k.startswith(prefix) for k in obj):
        obj = {k[len(prefix):]: v for k, v in obj.items()}
    return dict(obj)


def _load_file(path: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickled nn.Module is refused by the safe loader; the module docstring says why we retry
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except Exception as err:
            raise ValueError(
                f"source: cannot read {path}: it {describe(path, err)}; expected a state_dict, a checkpoint or a "
                f"module saved with torch.save"
            ) from None


@dataclass
class Source:
    """What ``open_source`` loaded: ``obj`` (a module or a state_dict), the zoo ``name`` of its architecture
    where known, the ``input_size`` a checkpoint recorded, and whether its weights are a fresh initialization."""

    obj: object
    name: str | None = None
    input_size: tuple[int, ...] | None = None
    random_weights: bool = False


def open_source(source, model: str | None = None, num_classes: int | None = None) -> Source:
    """``source`` as a ``Source`` (see the module docstring)."""
    from blueprint.models import create

    if isinstance(source, nn.Module):
        return Source(source)
    if isinstance(source, Mapping):
        obj, origin = source, "source"
    elif isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        obj, origin = _load_file(os.fspath(source)), os.fspath(source)
    elif isinstance(source, str):
        if model is not None or os.sep in source or source.endswith(CHECKPOINT_SUFFIXES):
            raise FileNotFoundError(f"source: no such checkpoint file: {source!r}")
        if source not in list_models():
            raise ValueError(unknown_name_error("source", source, list_models()) + " (or no such file)")
        return Source(create(source, num_classes=num_classes), source, random_weights=True)
    else:
        raise TypeError(f"source: expected an nn.Module, a state_dict, a file path or a zoo name, got {source!r}")
    recorded = obj.get("input_size") if isinstance(obj, Mapping) else None
    if model is None and isinstance(obj, Mapping) and isinstance(obj.get("model_name"), str):
        model = obj["model_name"]  # a checkpoint of `blueprint train` names its architecture
        num_classes = num_classes or obj.get("num_classes")
    if isinstance(obj, nn.Module) and model is None:
        return Source(obj)
    state = extract_state_dict(obj, origin)
    if model is None:
        return Source(state)
    net = create(model, num_classes=num_classes)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{origin}: the weights do not fit model {model!r}: {str(err).splitlines()[0]}") from None
    return Source(net, model, tuple(recorded) if recorded else None)


def load_source(source, model: str | None = None, num_classes: int | None = None):
    """Return an ``nn.Module`` or a state_dict for ``source`` (see the module docstring)."""
    return open_source(source, model, num_classes).obj
