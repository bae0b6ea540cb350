"""Multi-process training with PyTorch's DistributedDataParallel under ``torchrun`` (one process per device).

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; with ``WORLD_SIZE > 1`` the process group is
initialized from them (NCCL on CUDA, gloo on the CPU) and each process drives ``cuda:LOCAL_RANK`` (also when no
``--device`` is given and PyTorch sees GPUs). Only rank 0 writes files and prints. Metrics are sums reduced over
all processes.

Several nodes need a shared filesystem for ``--output-dir`` (every rank reads ``config.json`` and ``last.pt``
when resuming, which global rank 0 wrote) and for ``--data-dir`` when ``--download`` is given (global rank 0
fetches CIFAR once for everyone).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from blueprint.training.devices import resolve


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0


def setup(device: str, cuda_ok: bool = True) -> Context:
    """The process's rank, world size and device (``devices.resolve``: under torchrun a GPU is the local rank's);
    joins the process group when torchrun started several."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0")) if world > 1 else 0
    chosen = resolve(device, local_rank, cuda_ok)
    if world == 1:
        return Context(0, 1, chosen)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), chosen, local_rank)


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over every process (as float64); unchanged in a single process."""
    values = values.double()
    if dist.is_initialized():
        dist.all_reduce(values)
    return values


def gather(obj) -> list:
    """``obj`` of every process, in rank order (a one-element list in a single process)."""
    if not dist.is_initialized():
        return [obj]
    out = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out
