"""Checkpoints that are never half-written, and everything an exact resume needs.

A checkpoint is a dict: ``model`` (the state_dict, without DDP's or torch.compile's prefixes), ``optimizer``,
``scheduler``, ``scaler``, ``epoch`` (epochs completed), ``best_acc``, ``history`` (the metrics rows so far),
``rng`` (the torch, GPU-in-use, NumPy and Python generator states of every process), ``config`` and
``model_name``/``num_classes``/``input_size``. The model is the plain module's state_dict (the training loop
wraps the module for DDP and torch.compile, never the other way round), so ``blueprint analyze`` and
``blueprint evaluate`` read it directly. It holds only tensors and plain Python values, so
``torch.load(..., weights_only=True)`` reads it without running code from the file.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch
import torch.nn as nn

from blueprint.paths import describe


def atomic_save(obj, path: str) -> None:
    """``torch.save`` to a temporary file beside ``path``, flush it to disk, then rename it over ``path``.

    ``os.replace`` is atomic, so a reader (or a resumed run after a crash) sees the old file or the new one.
    A write that fails (a full disk, a folder that cannot be written) raises ``OSError`` saying so in one line;
    the file at ``path`` is then the previous one, untouched.
    """
    tmp = f"{path}.tmp"
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:  # also a KeyboardInterrupt: remove the partial file, keep the old checkpoint
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(err, OSError) or "PytorchStreamWriter failed" in str(err):  # torch's zip writer: RuntimeError
            cause = getattr(err, "strerror", None) or str(err).splitlines()[0]
            kept = "the previous one is untouched" if os.path.exists(path) else "nothing was written"
            failed = OSError(f"cannot write {path} ({cause}); {kept}")
            failed.errno = getattr(err, "errno", None)
            raise failed from None
        raise


def rng_state(device: torch.device) -> dict:
    """This process's generator states: torch (CPU), the GPU in use (``cuda``: None on the CPU), NumPy's global
    one, Python's. Only the GPU in use: a run resumed where fewer GPUs are visible has every state it needs."""
    device = torch.device(device)
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "python": random.getstate(),
    }


def set_rng_state(state: dict, device: torch.device) -> None:
    """Restore what ``rng_state`` saved; the GPU state goes to ``device`` when both are a GPU's (a run moved
    between the CPU and a GPU draws the device's generator afresh from its seed)."""
    device = torch.device(device)
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and isinstance(state.get("cuda"), torch.Tensor):
        torch.cuda.set_rng_state(state["cuda"], device)
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(state["python"])


def reseed(seed: int, epoch: int, rank: int) -> None:
    """Seed every generator of this process (torch on the CPU and all GPUs, NumPy, Python) from (seed, epoch,
    rank): the processes draw different dropout masks, and the same ones again in a repeated run."""
    high, low = np.random.SeedSequence([seed, epoch, rank]).generate_state(2, dtype=np.uint32)
    torch.manual_seed(int(high) << 32 | int(low))
    np.random.seed(int(low))
    random.seed(int(high) << 32 | int(low))


EXPECTED = "expected a last.pt or best.pt written by `blueprint train`"


def load_checkpoint(path: str, argument: str = "checkpoint") -> dict:
    """Read a checkpoint written by ``blueprint train``; a missing or foreign file raises ``ValueError`` (or
    ``FileNotFoundError``) naming ``argument``, what the file is and what was expected."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}: no file {path}; {EXPECTED}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a corrupt or foreign file; all mean the same here
        raise ValueError(f"{argument}: cannot read {path}: it {describe(path, err)}; {EXPECTED}") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        what = f"a dict with the keys {sorted(map(str, ckpt))[:6]}" if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ValueError(f"{argument}: {path} holds {what}, not the 'model' entry of a checkpoint; {EXPECTED}")
    return ckpt


def load_weights(model: nn.Module, state_dict: dict, origin: str) -> None:
    """Load ``state_dict`` into ``model`` strictly; if it does not fit, say how in one line."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]  # fmt: skip
    if missing or unexpected or mismatched:
        parts = [(missing, "missing keys"), (unexpected, "unexpected keys"),
                 (mismatched, "shape mismatches (checkpoint vs model)")]  # fmt: skip
        told = "; ".join(f"{len(found)} {what}, e.g. {found[0]}" for found, what in parts if found)
        raise ValueError(f"{origin} does not fit the model: {told}")
    model.load_state_dict(state_dict)
