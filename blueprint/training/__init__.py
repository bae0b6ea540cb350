"""Training with the paper's protocols (Sec. 5): ``fit(recipe("cifar10", model=...))``, as ``blueprint train`` does.

- ``config``: the recipes as a dataclass, every value overridable; ``metrics``: metrics.csv, curves, progress;
- ``memory_data`` (CIFAR, digits in memory, whole-batch augmentation), ``folder_data`` (ImageFolder via PIL),
  ``cifar`` and ``digits`` (the on-disk formats), ``sampling`` (orders derived from seed and epoch);
- ``loop``: the training loop; ``checkpoint``: atomic checkpoints and exact resume; ``distributed``: torchrun/DDP;
  ``devices``: the device chosen and made current, mixed precision, cuDNN settings, SGD.

The training-throughput benchmark is ``blueprint bench training`` (``blueprint.benchmarks.training``).
"""
from blueprint.training.checkpoint import load_checkpoint
from blueprint.training.config import TrainConfig, effective_config, recipe
from blueprint.training.loop import RunResult, TrainingError, evaluate, fit

__all__ = [
    "RunResult", "TrainConfig", "TrainingError", "effective_config", "evaluate", "fit", "load_checkpoint", "recipe",
]  # fmt: skip
