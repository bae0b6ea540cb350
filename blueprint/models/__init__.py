"""The model zoo: ``create(name, num_classes=...)`` and ``list_models(pattern)``.

Every family module below registers its names on import.
"""
from blueprint.models.registry import create, list_models, register

__all__ = ["create", "list_models", "register"]
