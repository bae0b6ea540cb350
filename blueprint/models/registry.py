"""Name -> constructor registry for the model zoo.

Each family module registers its constructors with ``@register("name")`` (or ``register_many``);
``create`` and ``list_models`` are the public entry points.
"""
from __future__ import annotations

import fnmatch
from typing import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    """Decorator: register ``fn(num_classes=..., **kwargs) -> nn.Module`` under ``name``."""

    def wrap(fn):
        add(name, fn)
        return fn

    return wrap


def add(name: str, fn: Callable[..., nn.Module]) -> None:
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is registered twice")
    _REGISTRY[name] = fn


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names in sorted order, optionally filtered by a shell-style ``pattern`` (``*mobilenet*``)."""
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def create(name: str, num_classes: int = 1000, **kwargs) -> nn.Module:
    """Build the model registered as ``name``."""
    if not isinstance(name, str) or name not in _REGISTRY:
        close = [n for n in _REGISTRY if isinstance(name, str) and name.split("_")[0] in n][:5]
        hint = f"; similar: {', '.join(close)}" if close else "; see `blueprint models` for the list"
        raise ValueError(f"model: unknown name {name!r}{hint}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    return _REGISTRY[name](num_classes=num_classes, **kwargs)
