"""The model zoo: ``create(name, num_classes=...)``, ``list_models(pattern)`` and ``register(config, transform)``.

Every name is a baseline config of a family module below and a variant transform (``variants``); each family
module registers its names on import.
"""
from blueprint.models.registry import create, default_num_classes, input_size, list_models, register
from blueprint.models import mobilenet_v1, mobilenet_v2, mobilenet_v3, resnet  # noqa: F401  (register on import)
from blueprint.models import densenet, efficientnet, mnasnet, vgg, xception  # noqa: F401  (Table 4)
from blueprint.models import digits  # noqa: F401  (the demo's small CNNs)

__all__ = ["create", "default_num_classes", "input_size", "list_models", "register"]
