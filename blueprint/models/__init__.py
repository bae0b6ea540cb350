"""The model zoo: ``create(name, num_classes=...)``, ``list_models(pattern)`` and ``register(config, transform)``.

Each family module below holds a table of baseline ``CONFIGS`` and the ``VARIANTS`` (transforms, None for the
baseline itself) the paper and its reference implementation name; every pair is registered here under
``config.name + transform.suffix``. The demo's small CNNs (``digits``) register their own names and input sizes.
"""

from blueprint.models import (  # Table 4
    densenet,
    digits,  # noqa: F401  (the demo's small CNNs, registered on import)
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

for _family in (mobilenet_v1, mobilenet_v2, mobilenet_v3, resnet, densenet, efficientnet, mnasnet, vgg, xception):
    for _config in _family.CONFIGS:
        for _variant in _family.VARIANTS:
            register(_config, _variant)

__all__ = ["create", "default_num_classes", "input_size", "list_models", "register"]
