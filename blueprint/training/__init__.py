"""Training with the paper's protocols (Sec. 5): ``fit(recipe("cifar10", model=...))``, as ``blueprint train`` does.

- ``config``: the recipes as a dataclass, every value overridable; ``metrics``: metrics.csv and curves;
- ``memory_data`` (CIFAR, digits in memory, whole-batch augmentation), ``folder_data`` (ImageFolder via PIL),
  ``cifar`` and ``digits`` (the on-disk formats), ``sampling`` (orders derived from seed and epoch);
- ``loop``: the training loop; ``checkpoint``: atomic checkpoints and exact resume; ``distributed``: torchrun/DDP;
  ``devices``: the device chosen and made current, mixed precision, cuDNN settings, SGD.

The training-throughput benchmark is ``blueprint bench training`` (``blueprint.benchmarks.training``). The
names below load their module (and PyTorch) on first use.
"""
from blueprint.lazy import lazy_exports

_HOMES = {
    "blueprint.training.checkpoint": ("load_checkpoint",),
    "blueprint.training.config": ("TrainConfig", "effective_config", "recipe"),
    "blueprint.training.loop": ("RunResult", "TrainingError", "evaluate", "fit"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _HOMES)
