"""How a run uses its device: which one (checked, made current), its precision, its kernels' settings, its SGD.

- ``resolve(name, local_rank, cuda_ok)``: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (a GPU when PyTorch sees one
  and ``cuda_ok``, else the CPU), checked against the devices present. Under ``torchrun`` a GPU is the local
  rank's. A GPU is made current (``torch.cuda.set_device``), so that kernels, the allocator and
  ``torch.cuda.synchronize()`` all use the device the run asked for, not GPU 0.
- ``amp_dtype(device)``: what ``--amp`` computes in: bfloat16 on the CPU and on GPUs that support it (float32's
  exponent range, so no gradient scaler), else float16, whose small range needs a ``GradScaler``.
- ``kernel_settings(device, deterministic)``: for the run's duration, cuDNN picks the fastest algorithm for the
  fixed input shapes (``cudnn.benchmark``), or with ``deterministic`` only deterministic algorithms run.
- ``sgd(params, device, ...)``: SGD with momentum, fused into one kernel per step on CUDA.
"""

from __future__ import annotations

import contextlib
import os

import torch

CUBLAS_WORKSPACE = "CUBLAS_WORKSPACE_CONFIG"  # deterministic cuBLAS needs a fixed workspace (CUDA >= 10.2)


def resolve(name: str, local_rank: int = 0, cuda_ok: bool = True) -> torch.device:
    """The device ``name`` stands for in the process of ``local_rank``; a GPU is made the current one."""
    if name == "auto":
        name = "cuda" if cuda_ok and torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} was asked for, but PyTorch sees no CUDA device (use `device=cpu`)")
    index = local_rank if device.index is None else device.index
    count = torch.cuda.device_count()
    if index >= count:
        raise ValueError(f"device: {name!r} means GPU {index}, but PyTorch sees {count} (0..{count - 1})")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def amp_dtype(device: torch.device) -> torch.dtype:
    """The autocast dtype of ``--amp`` on ``device`` (see the module docstring)."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device) < (8, 0):  # before Ampere: no bfloat16
        return torch.float16
    return torch.bfloat16


def autocast(device: torch.device, enabled: bool):
    """Mixed precision in ``amp_dtype(device)``."""
    return torch.autocast(device.type, dtype=amp_dtype(device), enabled=enabled)


def grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler:
    """A gradient scaler, enabled only where ``--amp`` computes in float16."""
    return torch.amp.GradScaler(device.type, enabled=amp and amp_dtype(device) == torch.float16)


@contextlib.contextmanager
def kernel_settings(device: torch.device, deterministic: bool):
    """cuDNN autotuning, or deterministic algorithms only, inside the block; the previous settings after it."""
    cudnn = torch.backends.cudnn
    before = (
        cudnn.benchmark,
        cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        os.environ.get(CUBLAS_WORKSPACE),
    )
    try:
        cudnn.benchmark = device.type == "cuda" and not deterministic
        cudnn.deterministic = deterministic
        if deterministic:
            os.environ.setdefault(CUBLAS_WORKSPACE, ":4096:8")
        torch.use_deterministic_algorithms(deterministic)
        yield
    finally:
        cudnn.benchmark, cudnn.deterministic, algorithms, workspace = before
        torch.use_deterministic_algorithms(algorithms)
        if workspace is None:
            os.environ.pop(CUBLAS_WORKSPACE, None)
        else:
            os.environ[CUBLAS_WORKSPACE] = workspace


def sgd(params, device: torch.device, lr: float, momentum: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with momentum and weight decay; on CUDA fused (one kernel per step, and the GradScaler's unscaling
    happens inside it instead of after a host sync)."""
    return torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=weight_decay, fused=True if device.type == "cuda" else None
    )


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict) -> None:
    """``optimizer.load_state_dict(state)``, keeping this device's choice of fused kernels (a GPU run's state
    says ``fused=True``, which a CPU run must not take over, and the other way round)."""
    fused = [group.get("fused") for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, choice in zip(optimizer.param_groups, fused):
        group["fused"] = choice
