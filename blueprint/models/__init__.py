"""The model zoo: ``create(name, num_classes=...)``, ``list_models(pattern)`` and ``register(config, transform)``.

Each family module below holds a table of baseline ``CONFIGS`` and the ``VARIANTS`` (transforms, None for the
baseline itself) the paper and its official implementation name; every pair is registered here under
``config.name + transform.suffix``, with the config's own input size and class count where it has them (the
small CNNs of ``digits`` and ``cifar_tiny``).
"""

from blueprint.models import (  # Table 4, and the small CNNs of the demo, the lessons and the tests
    cifar_tiny,
    densenet,
    digits,
    efficientnet,
    mnasnet,
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    resnet,
    vgg,
    xception,
)
from blueprint.models.registry import create, default_num_classes, input_size, list_models, register

FAMILIES = (
    mobilenet_v1,
    mobilenet_v2,
    mobilenet_v3,
    resnet,
    densenet,
    efficientnet,
    mnasnet,
    vgg,
    xception,
    digits,
    cifar_tiny,
)
for _family in FAMILIES:
    for _config in _family.CONFIGS:
        for _variant in _family.VARIANTS:
            register(_config, _variant)

__all__ = ["create", "default_num_classes", "input_size", "list_models", "register"]
