"""Name -> constructor registry for the model zoo.

Each family module registers its constructors with ``@register("name")`` (or ``register_many``);
``create`` and ``list_models`` are the public entry points.
"""
from __future__ import annotations

import fnmatch
from typing import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
_INPUT_SIZES: dict[str, tuple[int, int, int]] = {}
_NUM_CLASSES: dict[str, int] = {}

CIFAR_INPUT_SIZE = (3, 32, 32)
IMAGENET_INPUT_SIZE = (3, 224, 224)


def register(name: str, input_size: tuple[int, int, int] | None = None, num_classes: int | None = None):
    """Decorator: register ``fn(num_classes=..., **kwargs) -> nn.Module`` under ``name``."""

    def wrap(fn):
        add(name, fn, input_size, num_classes)
        return fn

    return wrap


def add(
    name: str,
    fn: Callable[..., nn.Module],
    input_size: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
) -> None:
    """Register ``fn`` under ``name``; ``input_size`` (C, H, W) and ``num_classes`` override the defaults of
    ``input_size(name)`` and ``default_num_classes(name)``."""
    if name in _REGISTRY:
        raise ValueError(f"model name {name!r} is registered twice")
    _REGISTRY[name] = fn
    if input_size is not None:
        _INPUT_SIZES[name] = tuple(input_size)
    if num_classes is not None:
        _NUM_CLASSES[name] = num_classes


def default_num_classes(name: str) -> int:
    """The classes a registered model gets when none are asked for: its own if it registered a number, else
    CIFAR-10's 10 for ``cifar_*`` names and ImageNet's 1000 for the rest."""
    if name in _NUM_CLASSES:
        return _NUM_CLASSES[name]
    return 10 if name.startswith("cifar_") else 1000


def input_size(name: str) -> tuple[int, int, int]:
    """The (C, H, W) a registered model is meant for: its own if it registered one, else CIFAR's 3x32x32
    for ``cifar_*`` names and ImageNet's 3x224x224 for the rest."""
    if name in _INPUT_SIZES:
        return _INPUT_SIZES[name]
    return CIFAR_INPUT_SIZE if name.startswith("cifar_") else IMAGENET_INPUT_SIZE


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names in sorted order, optionally filtered by a shell-style ``pattern`` (``*mobilenet*``)."""
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def create(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build the model registered as ``name``, with ``default_num_classes(name)`` classes unless given."""
    if not isinstance(name, str) or name not in _REGISTRY:
        from blueprint.names import unknown_name_error

        raise ValueError(unknown_name_error("model", name, _REGISTRY))
    if num_classes is None:
        num_classes = default_num_classes(name)
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    return _REGISTRY[name](num_classes=num_classes, **kwargs)
