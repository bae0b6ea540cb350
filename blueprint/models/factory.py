"""A model from a name: a zoo name (``blueprint.models.create``) or ``package.module:factory``, a callable of your
own that returns an ``nn.Module``.

A factory is called as ``factory(num_classes=N)`` where it takes a ``num_classes`` argument, else as
``factory()``. The module is imported as Python imports any (``sys.path``, the current folder under
``python -m``), so a file ``mynet.py`` in the folder where ``blueprint`` runs is ``mynet:make``.
"""

from __future__ import annotations

import importlib
import inspect
import re

import torch.nn as nn

from blueprint.models.registry import create, list_models
from blueprint.names import unknown_name_error

SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def is_factory(name: str) -> bool:
    """Whether ``name`` has the form ``package.module:factory``."""
    return isinstance(name, str) and SPEC.match(name) is not None


def resolve(name: str, argument: str = "model"):
    """The callable that ``name`` (``package.module:factory``) names; ``ValueError`` naming ``argument`` if the
    module cannot be imported or holds no such callable."""
    module_name, attribute = name.split(":")
    try:
        target = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(
            f"{argument}: cannot import {module_name!r} of {name!r} ({err}); expected "
            f"package.module:factory importable from here"
        ) from None
    for part in attribute.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise ValueError(f"{argument}: {module_name} holds no callable {attribute!r}; expected package.module:factory")
    return target


def check(name: str, argument: str = "model") -> str:
    """``name`` if it is a zoo name or a factory that resolves; else ``ValueError`` naming ``argument``."""
    if is_factory(name):
        resolve(name, argument)
    elif name not in list_models():
        raise ValueError(unknown_name_error(argument, name, list_models()) + " (or package.module:factory)")
    return name


def build(name: str, num_classes: int | None = None, argument: str = "model") -> nn.Module:
    """The model ``name`` (a zoo name or ``package.module:factory``) for ``num_classes`` classes."""
    if not is_factory(check(name, argument)):
        return create(name, num_classes=num_classes)
    factory = resolve(name, argument)
    try:
        takes_classes = "num_classes" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or extension callable without a signature
        takes_classes = False
    model = factory(num_classes=num_classes) if takes_classes and num_classes is not None else factory()
    if not isinstance(model, nn.Module):
        raise ValueError(f"{argument}: {name} returned {type(model).__name__}; expected an nn.Module")
    return model
