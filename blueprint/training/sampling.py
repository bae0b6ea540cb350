"""Which examples a process sees in which order: derived from (seed, epoch) alone, so a resumed run repeats it.

Every process of a distributed run draws the same permutation, pads it by repeating its head to a multiple
of the world size (as ``torch.utils.data.DistributedSampler`` does, so that every process runs the same
number of steps) and takes every ``world``-th entry starting at its ``rank``.
"""

from __future__ import annotations

import numpy as np
import torch


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch, stream) only: nothing else in the run moves it.

    Stream 0 draws the order of the examples, stream 1 their augmentation.
    """
    state = np.random.SeedSequence([seed, epoch, stream]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def shard(order: torch.Tensor, rank: int, world: int, pad: bool) -> torch.Tensor:
    """Entries ``rank, rank + world, ...`` of ``order``; with ``pad`` first padded to a multiple of ``world``."""
    if pad and len(order) % world:
        extra = world - len(order) % world
        order = torch.cat([order, order[:extra].repeat(extra // max(len(order), 1) + 1)[:extra]])
    return order[rank::world]


def train_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """This process's shuffled indices into a training set of ``n`` examples for ``epoch`` (int64, CPU)."""
    order = torch.randperm(n, generator=epoch_generator(seed, epoch))
    return shard(order, rank, world, pad=True)


def eval_order(n: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """This process's indices into a test set of ``n`` examples: in order, unpadded (every example once)."""
    return shard(torch.arange(n), rank, world, pad=False)


def train_steps(n: int, batch_size: int, world: int = 1) -> int:
    """Batches per epoch of each process: its padded shard of ``train_order`` in batches of ``batch_size``."""
    per_process = -(-n // world)
    return -(-per_process // batch_size)
