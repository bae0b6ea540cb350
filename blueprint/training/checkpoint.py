"""Checkpoints that are never half-written, and everything an exact resume needs.

This module owns the layout: ``make_checkpoint`` builds it, ``load_checkpoint``/``read_checkpoint`` read it, and no
other module names its keys. A checkpoint is a dict: ``model`` (the state_dict, without DDP's or torch.compile's
prefixes), ``optimizer``, ``scaler``, ``epoch`` (epochs completed), ``best_acc``, ``history`` (the metrics rows so
far), ``rng`` (the torch, GPU-in-use, NumPy and Python generator states of every process), ``config``,
``model_name``/``num_classes``, and the preprocessing (``Preprocessing``): ``input_size``, ``mean``, ``std``,
``class_names`` and ``resize``. Files written before the preprocessing was recorded (and with a ``scheduler`` entry) are read too:
the missing values are None. The learning rate is a function of the epoch (``blueprint.training.schedule``), so no
scheduler state is kept. The model is the plain module's state_dict (the training loop wraps the module for DDP and
torch.compile, never the other way round), so ``blueprint analyze`` and ``blueprint evaluate`` read it directly. It
holds only tensors and plain Python values, so ``torch.load(..., weights_only=True)`` reads it without running code
from the file.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from blueprint.paths import atomic_write, describe


def atomic_save(obj, path: str) -> None:
    """``torch.save`` through ``blueprint.paths.atomic_write``: the previous file survives a failed write, and a
    full disk or a folder that cannot be written is one ``OSError`` naming ``path`` and the reason."""
    atomic_write(path, lambda f: torch.save(obj, f))


@dataclass(frozen=True)
class Preprocessing:
    """What a model expects of its input: images of ``input_size`` (C, H, W) with intensities in [0, 1] (an image
    of another size: its short side resized to ``resize``, or to H where None, then the central H x W),
    normalized per channel as (x - mean) / std, and the names of the classes its outputs score.

    ``mean`` and ``std`` are None for a checkpoint written before they were recorded (nothing known)."""

    input_size: tuple[int, ...]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    classes: tuple[str, ...] | None = None
    resize: int | None = None

    def as_dict(self) -> dict:
        return dict(
            input_size=list(self.input_size),
            mean=_listed(self.mean),
            std=_listed(self.std),
            class_names=_listed(self.classes),
            resize=self.resize,
        )


def _listed(values):
    return None if values is None else list(values)


def make_checkpoint(
    model: nn.Module,
    optimizer,
    scaler,
    epoch: int,
    best_acc: float,
    history: list[dict],
    rng: list[dict],
    config: dict,
    model_name: str,
    num_classes: int,
    preprocessing: Preprocessing,
) -> dict:
    """The checkpoint dict of the module docstring (what ``atomic_save`` writes and ``read_checkpoint`` reads)."""
    return dict(
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scaler=scaler.state_dict(),
        epoch=epoch,
        best_acc=best_acc,
        history=history,
        rng=rng,
        config=config,
        model_name=model_name,
        num_classes=num_classes,
        **preprocessing.as_dict(),
    )


@dataclass
class Checkpoint:
    """A checkpoint as the other commands read it: the weights, the architecture's name, the preprocessing."""

    path: str
    state_dict: dict
    model_name: str | None
    num_classes: int | None
    epoch: int | None
    config: dict
    preprocessing: Preprocessing | None


def read_checkpoint(path: str, argument: str = "checkpoint") -> Checkpoint:
    """``load_checkpoint`` as a ``Checkpoint``; an old file without mean, std or class names gives None for them
    (and no ``preprocessing`` at all where it recorded no input size)."""
    return checkpoint_of(load_checkpoint(path, argument), path)


def checkpoint_of(ckpt: dict, path: str) -> Checkpoint:
    """The ``Checkpoint`` view of a checkpoint dict read from ``path``."""
    size = ckpt.get("input_size")
    tupled = lambda key: tuple(ckpt[key]) if ckpt.get(key) is not None else None  # noqa: E731
    pre = (
        Preprocessing(tuple(size), tupled("mean"), tupled("std"), tupled("class_names"), ckpt.get("resize"))
        if size
        else None
    )
    return Checkpoint(
        path,
        ckpt["model"],
        ckpt.get("model_name"),
        ckpt.get("num_classes"),
        ckpt.get("epoch"),
        dict(ckpt.get("config") or {}),
        pre,
    )


def is_checkpoint(obj) -> bool:
    """Whether ``obj`` (what ``torch.load`` gave) is a checkpoint of ``blueprint train``."""
    return isinstance(obj, dict) and "model" in obj and isinstance(obj.get("model_name"), str)


def restore(ckpt: dict, origin: str, model, optimizer, scaler, rank: int, world: int, device, seed: int):
    """Put the run of checkpoint ``ckpt`` back in place; returns (epochs done, best accuracy, history).

    A scaler state is taken where there is one (a run that had no float16 ``--amp`` saved none: its scaler
    starts afresh). The generators continue where each process left them; a run resumed on another number of
    processes reseeds each from (seed, epoch, rank) instead.
    """
    from blueprint.training.devices import load_optimizer

    load_weights(model, ckpt["model"], f"{origin} (a {ckpt.get('model_name')} checkpoint)")
    load_optimizer(optimizer, ckpt["optimizer"])
    if ckpt.get("scaler"):
        scaler.load_state_dict(ckpt["scaler"])
    states = ckpt["rng"]  # one per process of the run
    if len(states) == world:
        set_rng_state(states[rank], device)
    else:
        reseed(seed, ckpt["epoch"], rank)
    return ckpt["epoch"], ckpt["best_acc"], ckpt["history"]


def epochs_of(ckpt: dict) -> tuple[int, int]:
    """(epochs done, epochs the run was planned for) of a checkpoint dict."""
    return ckpt["epoch"], (ckpt.get("config") or {}).get("epochs", ckpt["epoch"])


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
    mismatched = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or mismatched:
        parts = [
            (missing, "missing keys"),
            (unexpected, "unexpected keys"),
            (mismatched, "shape mismatches (checkpoint vs model)"),
        ]
        told = "; ".join(f"{len(found)} {what}, e.g. {found[0]}" for found, what in parts if found)
        raise ValueError(f"{origin} does not fit the model: {told}")
    model.load_state_dict(state_dict)
