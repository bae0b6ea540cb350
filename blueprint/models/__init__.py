"""The model zoo: ``create(name, num_classes=...)`` and ``list_models(pattern)``.

Every family module below registers its names on import.
"""
from blueprint.models.registry import create, default_num_classes, input_size, list_models, register
from blueprint.models import mobilenet_v1, mobilenet_v2, mobilenet_v3, resnet  # noqa: F401  (register on import)
from blueprint.models import densenet, efficientnet, mnasnet, vgg, xception  # noqa: F401  (Table 4)
from blueprint.models import digits  # noqa: F401  (the demo's small CNNs)

__all__ = ["create", "default_num_classes", "input_size", "list_models", "register"]
