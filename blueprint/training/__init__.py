"""Training with the paper's protocols (Sec. 5): ``fit(recipe("cifar10", model=...))``, as ``blueprint train`` does.

- ``config``: the recipes as a dataclass, every value overridable; ``metrics``: metrics.csv and curves;
- ``memory_data`` (CIFAR, digits in memory, whole-batch augmentation), ``folder_data`` (ImageFolder via PIL),
  ``cifar`` and ``digits`` (the on-disk formats), ``sampling`` (orders derived from seed and epoch);
- ``loop``: the training loop; ``checkpoint``: atomic checkpoints and exact resume; ``distributed``: torchrun/DDP;
- ``warm_start`` (a trained baseline converted into its BSConv variant by SVD), ``distillation`` (the loss from a
  teacher's logits), ``from_trained`` (both as a run uses them), ``convert_checkpoint`` (``blueprint convert``);
  ``devices``: the device chosen and made current, mixed precision, cuDNN settings, SGD.

The training-throughput benchmark is ``blueprint bench training`` (``blueprint.benchmarks.training``). The
names below load their module (and PyTorch) on first use.
"""

from blueprint.lazy import lazy_exports

_HOMES = {
    "blueprint.training.checkpoint": ("load_checkpoint",),
    "blueprint.training.config": ("TrainConfig", "effective_config", "recipe"),
    "blueprint.training.loop": ("RunResult", "TrainingError", "evaluate", "fit"),
    "blueprint.training.warm_start": ("convert_baseline",),
    "blueprint.training.distillation": ("Distillation", "distillation_loss"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, _HOMES)
