"""Training with the paper's protocols (Sec. 5): ``fit(recipe("cifar10", model=...))``, as ``blueprint train`` does.

- ``config``: the recipes as a dataclass, every value overridable; ``metrics``: metrics.csv and curves;
- ``memory_data`` (CIFAR, digits in memory, whole-batch augmentation), ``folder_data`` (ImageFolder via PIL),
  ``cifar`` and ``digits`` (the on-disk formats), ``sampling`` (orders derived from seed and epoch);
- ``loop``: the training loop; ``checkpoint``: atomic checkpoints and exact resume; ``distributed``: torchrun/DDP;
  ``devices``: the device chosen and made current, mixed precision, cuDNN settings, SGD.

The training-throughput benchmark is ``blueprint bench training`` (``blueprint.benchmarks.training``). The
names below load their module (and PyTorch) on first use.
"""
import importlib

_HOMES = {
    "blueprint.training.checkpoint": ("load_checkpoint",),
    "blueprint.training.config": ("TrainConfig", "effective_config", "recipe"),
    "blueprint.training.loop": ("RunResult", "TrainingError", "evaluate", "fit"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = sorted(_HOME_OF)


def __getattr__(name: str):
    if name not in _HOME_OF:
        raise AttributeError(f"module 'blueprint.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
