"""Multi-process training with PyTorch's DistributedDataParallel under ``torchrun`` (one process per device).

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; with ``WORLD_SIZE > 1`` the process group is
initialized from them (NCCL on CUDA, gloo on the CPU) and each process drives ``cuda:LOCAL_RANK``. Only rank 0
writes files and prints. Metrics are sums reduced over all processes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this process writes files and prints (rank 0)."""
        return self.rank == 0


def setup(device: str) -> Context:
    """The process's rank, world size and device; joins the process group when torchrun started several."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    kind = torch.device(device).type
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: 'cuda' was asked for, but PyTorch sees no CUDA device (use `device=cpu`)")
    if world == 1:
        return Context(0, 1, torch.device(device))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if kind == "cuda":
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    return Context(dist.get_rank(), dist.get_world_size(), torch.device(device))


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
