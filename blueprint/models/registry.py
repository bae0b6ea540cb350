"""The model zoo's registry: every name is a baseline config and a variant transform.

``create(name)`` is ``transform(config.build(num_classes))``: the family's config builds and initializes the
baseline, then the transform (one of ``blueprint.models.variants``, or None for the baseline itself) makes the
variant, the order of the paper's official implementation. ``register(config, transform)`` adds an entry under
the name the two make, ``config.name + transform.suffix``. Any config and transform that have these members can
be registered the same way:

- a config: a frozen dataclass with ``name`` and ``build(num_classes) -> nn.Module``, and where the name's
  defaults (below) do not fit, ``input_size`` (C, H, W) and ``num_classes`` (its default class count);
- a transform: a callable ``model -> model`` with a ``suffix`` (or pass ``name=`` to ``register``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Callable

import torch.nn as nn

from blueprint.names import unknown_name_error

CIFAR_INPUT_SIZE = (3, 32, 32)
IMAGENET_INPUT_SIZE = (3, 224, 224)


@dataclass(frozen=True)
class Entry:
    """One registered name: the baseline ``config``, the variant ``transform`` (None: the baseline), the input
    size (C, H, W) it is meant for and its default class count."""

    config: Any
    transform: Callable[[nn.Module], nn.Module] | None
    input_size: tuple[int, int, int]
    num_classes: int

    def create(self, num_classes: int) -> nn.Module:
        model = self.config.build(num_classes)
        return model if self.transform is None else self.transform(model)


_REGISTRY: dict[str, Entry] = {}


def register(
    config,
    transform: Callable[[nn.Module], nn.Module] | None = None,
    *,
    name: str | None = None,
    input_size: tuple[int, int, int] | None = None,
    num_classes: int | None = None,
) -> str:
    """Register ``transform(config.build(num_classes))``; returns its name.

    The name is ``name`` if given, else ``config.name`` followed by ``transform.suffix``. ``input_size`` (C, H, W)
    and ``num_classes`` default to the config's own where it has them, else to CIFAR's 3x32x32 and 10 for
    ``cifar_*`` names and ImageNet's 3x224x224 and 1000 for the rest (see ``input_size`` and
    ``default_num_classes``).
    """
    if not callable(getattr(config, "build", None)):
        raise TypeError(f"config: expected a model config with a build(num_classes) method, got {config!r}")
    if transform is not None and not callable(transform):
        raise TypeError(f"transform: expected None or a callable model -> model, got {transform!r}")
    if name is None:
        suffix = "" if transform is None else getattr(transform, "suffix", None)
        if not isinstance(getattr(config, "name", None), str) or not isinstance(suffix, str):
            raise TypeError(
                f"name: expected a name, or a config with a str name and a transform with a str suffix, "
                f"got config {config!r} and transform {transform!r}"
            )
        name = config.name + suffix
    if name in _REGISTRY:
        raise ValueError(f"name: model name {name!r} is registered twice")
    input_size = getattr(config, "input_size", None) if input_size is None else input_size
    num_classes = getattr(config, "num_classes", None) if num_classes is None else num_classes
    if num_classes is None:
        num_classes = 10 if name.startswith("cifar_") else 1000
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    _REGISTRY[name] = Entry(config, transform, tuple(input_size or _input_size_by_name(name)), num_classes)
    return name


def _input_size_by_name(name: str) -> tuple[int, int, int]:
    return CIFAR_INPUT_SIZE if name.startswith("cifar_") else IMAGENET_INPUT_SIZE


def entry(name: str) -> Entry:
    """The registered entry of ``name``: its config, transform, input size and default class count."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(unknown_name_error("model", name, _REGISTRY))
    return _REGISTRY[name]


def default_num_classes(name: str) -> int:
    """The classes a registered model gets when none are asked for (10 for ``cifar_*`` names, 1000 for the rest,
    unless it was registered with its own)."""
    return entry(name).num_classes


def input_size(name: str) -> tuple[int, int, int]:
    """The (C, H, W) a model is meant for: a registered name's own, else CIFAR's 3x32x32 for ``cifar_*`` names
    and ImageNet's 3x224x224 for the rest."""
    return _REGISTRY[name].input_size if name in _REGISTRY else _input_size_by_name(name)


def list_models(pattern: str | None = None) -> list[str]:
    """Registered names in sorted order, optionally filtered by a shell-style ``pattern`` (``*mobilenet*``)."""
    names = sorted(_REGISTRY)
    if pattern is None:
        return names
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def create(name: str, num_classes: int | None = None) -> nn.Module:
    """Build the model registered as ``name``, with ``default_num_classes(name)`` classes unless given."""
    found = entry(name)
    if num_classes is None:
        num_classes = found.num_classes
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive int, got {num_classes!r}")
    return found.create(num_classes)
