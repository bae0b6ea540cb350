"""Where a model comes from: a zoo name, ``package.module:factory``, a module, a state_dict or a file.

``open_source`` accepts

- an ``nn.Module`` or a state_dict (a mapping of names to tensors), returned as they are;
- a path to a file written by ``torch.save``: a checkpoint of ``blueprint train`` (read by
  ``blueprint.training.checkpoint``, which knows its layout), a state_dict, a checkpoint dict holding one under a
  usual key (``state_dict``, ``model``, ``model_state_dict``, ``model_state``, ``net``), or a whole pickled module;
- otherwise a zoo name or ``package.module:factory`` (``blueprint.models.factory``): a freshly initialized model.

With ``model=NAME`` the weights from the file are loaded into that architecture (strictly, a mismatch told in
one line), which gives a module again (needed for a forward pass); a checkpoint of ``blueprint train`` names
its architecture, which is used when ``model`` is not given, and its preprocessing (input size, mean, std,
class names). Loading a whole pickled module runs ``torch.load`` with ``weights_only=False``, which executes
code from the file: use it on files you trust. evaluate, export, profile, analyze and predict all open their
model here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn as nn

from blueprint.models import factory, input_size
from blueprint.paths import describe
from blueprint.training.checkpoint import (
    Checkpoint,
    Preprocessing,
    checkpoint_of,
    is_checkpoint,
    load_weights,
    read_checkpoint,
)

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
        obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return dict(obj)


def _load_file(path: str, argument: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickled nn.Module is refused by the safe loader; the module docstring says why we retry
        try:
            return torch.load(path, map_location="cpu", weights_only=False)
        except (AttributeError, ImportError) as err:  # the pickle names a class this process cannot import
            raise ValueError(
                f"{argument}: {path} holds a pickled module whose class cannot be found here ({err}); "
                f"import it first, or save its state_dict and pass --model"
            ) from None
        except Exception as err:
            raise ValueError(
                f"{argument}: cannot read {path}: it {describe(path, err)}; expected a state_dict, a checkpoint or a "
                f"module saved with torch.save"
            ) from None


@dataclass
class Source:
    """What ``open_source`` loaded: ``obj`` (a module or a state_dict), the ``name`` of its architecture where
    known, the ``input_size`` a checkpoint recorded, whether its weights are a fresh initialization, and the
    ``checkpoint`` of ``blueprint train`` it came from (None otherwise)."""

    obj: object
    name: str | None = None
    input_size: tuple[int, ...] | None = None
    random_weights: bool = False
    checkpoint: Checkpoint | None = None

    @property
    def preprocessing(self) -> Preprocessing | None:
        return self.checkpoint.preprocessing if self.checkpoint else None


def open_source(source, model: str | None = None, num_classes: int | None = None, argument: str = "source") -> Source:
    """``source`` as a ``Source`` (see the module docstring); errors name ``argument``."""
    if isinstance(source, nn.Module):
        return Source(source)
    if isinstance(source, Mapping):
        obj, origin = source, argument
    elif isinstance(source, (str, os.PathLike)) and os.path.isfile(source):
        obj, origin = _load_file(os.fspath(source), argument), os.fspath(source)
    elif isinstance(source, str):
        if model is not None or os.sep in source or source.endswith(CHECKPOINT_SUFFIXES):
            raise FileNotFoundError(f"{argument}: no such checkpoint file: {source!r}")
        return Source(factory.build(source, num_classes, argument), source, random_weights=True)
    else:
        raise TypeError(f"{argument}: expected an nn.Module, a state_dict, a file path or a zoo name, got {source!r}")
    if is_checkpoint(obj):
        return _built(checkpoint_of(obj, origin), model, num_classes)
    if isinstance(obj, nn.Module) and model is None:
        return Source(obj)
    state = extract_state_dict(obj, origin)
    if model is None:
        return Source(state)
    net = factory.build(model, num_classes, "model")
    load_weights(net, state, origin)
    return Source(net, model)


def _built(ckpt: Checkpoint, model: str | None, num_classes: int | None) -> Source:
    """The module of a ``blueprint train`` checkpoint (its architecture, or ``model``) with its weights."""
    name = model or ckpt.model_name
    net = factory.build(name, num_classes or ckpt.num_classes, "model")
    load_weights(net, ckpt.state_dict, f"{ckpt.path} (a {ckpt.model_name} checkpoint)")
    size = ckpt.preprocessing.input_size if ckpt.preprocessing else None
    return Source(net, name, size, checkpoint=ckpt)


def open_checkpoint(path: str, model: str | None = None, argument: str = "checkpoint") -> Source:
    """A checkpoint of ``blueprint train`` only (read safely: tensors and plain values), as a ``Source``."""
    return _built(read_checkpoint(path, argument), model, None)


def load_source(source, model: str | None = None, num_classes: int | None = None):
    """Return an ``nn.Module`` or a state_dict for ``source`` (see the module docstring)."""
    return open_source(source, model, num_classes).obj
