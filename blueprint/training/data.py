"""``make_loader(config)``: the loader of the configured data set for this process.

CIFAR and digits are held in memory (``memory_data``), the ImageFolder sets are read from disk
(``folder_data``); both give ``train_batches(epoch)``, ``test_batches()``, ``train_steps()``,
``num_classes``, ``input_size``, ``num_train`` and ``num_test``.
"""

from __future__ import annotations

from blueprint.training import cifar, distributed
from blueprint.training.config import IMAGE_FOLDER_DATASETS, TrainConfig
from blueprint.training.digits import load_digits
from blueprint.training.folder_data import FolderLoader
from blueprint.training.memory_data import MemoryLoader


def per_process_batch(config: TrainConfig, world: int) -> int:
    """The global ``batch_size`` split evenly over ``world`` processes."""
    if config.batch_size % world:
        raise ValueError(f"batch_size: expected a multiple of the {world} processes, got {config.batch_size}")
    return config.batch_size // world


def make_loader(config: TrainConfig, device, rank: int = 0, world: int = 1, classes: tuple[str, ...] | None = None):
    """The loader of ``config.dataset``; ``classes`` (a trained model's class names) lets an image folder be
    evaluated from its ``val/`` alone."""
    batch_size = per_process_batch(config, world)
    if config.dataset in IMAGE_FOLDER_DATASETS:
        return FolderLoader(config, device, batch_size, rank, world, classes)
    if config.dataset == "digits":
        data = load_digits()
    else:
        if config.download:
            if rank == 0:
                cifar.download(config.dataset, config.data_dir)
            distributed.barrier()
        data = cifar.load_cifar(config.dataset, config.data_dir)
    return MemoryLoader(
        data, device, batch_size, config.flip, config.shift, config.seed, rank, world, config.channels_last
    )
