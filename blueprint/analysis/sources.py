"""Where a model for analysis or profiling comes from: a zoo name, a module, or a file.

``load_source`` accepts

- an ``nn.Module`` or a state_dict (a mapping of names to tensors), returned as they are;
- a path to a file written by ``torch.save``: a state_dict, a checkpoint dict holding one under a usual key
  (``state_dict``, ``model``, ``model_state_dict``, ``model_state``, ``net``), or a whole pickled module;
- otherwise a zoo name for ``blueprint.models.create``.

With ``model=NAME`` the weights from the file are loaded into that zoo architecture (strictly), which gives
a module again (needed for a forward pass). Loading a whole pickled module runs ``torch.load`` with
``weights_only=False``, which executes code from the file: use it on files you trust.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn as nn

from blueprint.models import input_size

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
            raise ValueError(f"source: could not read {path!r} with torch.load: {err}") from err


def load_source(source, model: str | None = None, num_classes: int | None = None):
    """Return an ``nn.Module`` or a state_dict for ``source`` (see the module docstring)."""
    if isinstance(source, nn.Module):
        return source
    if isinstance(source, Mapping):
        obj, origin = source, "source"
    elif isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        obj, origin = _load_file(os.fspath(source)), os.fspath(source)
    elif isinstance(source, str):
        if model is not None or os.sep in source or source.endswith(CHECKPOINT_SUFFIXES):
            raise FileNotFoundError(f"source: no such checkpoint file: {source!r}")
        from blueprint.models import create

        return create(source, num_classes=num_classes)
    else:
        raise TypeError(f"source: expected an nn.Module, a state_dict, a file path or a zoo name, got {source!r}")
    if isinstance(obj, nn.Module) and model is None:
        return obj
    state = extract_state_dict(obj, origin)
    if model is None:
        return state
    from blueprint.models import create

    net = create(model, num_classes=num_classes)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{origin}: the weights do not fit model {model!r}: {str(err).splitlines()[0]}") from err
    return net
