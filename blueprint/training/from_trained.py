"""What a training run takes from trained networks: its start (``init_from``) and its teacher (``distill_from``).

``fit`` calls ``start`` once the zoo model is built and the data is loaded:

- ``init_from`` (a new run only; a resumed one restores its checkpoint): the baseline checkpoint (or module)
  becomes the zoo model by ``warm_start`` (SVD conversion, then BatchNorm recalibrated on the first
  ``RECALIBRATION_BATCHES`` training batches of epoch 0: the same batches in every run of the same seed);
- ``distill_from``: the teacher, on the run's device in eval mode, its class count checked against the data's.

The run folder gets ``conversion.txt`` (the per-layer conversion report) and ``warm_start.json`` (the
identities of the baseline and the teacher: path, SHA-256, model, epochs, accuracy, see ``trained``). A resumed
run refuses a teacher file whose SHA-256 is not the one recorded: it would not continue the same run.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import os
from dataclasses import dataclass

import torch.nn as nn

from blueprint.paths import atomic_text
from blueprint.training.config import TrainConfig
from blueprint.training.distillation import Distillation
from blueprint.training.trained import describe_identity, load_trained
from blueprint.training.warm_start import RECALIBRATION_BATCHES, baseline_of, warm_start

RECORD = "warm_start.json"
REPORT = "conversion.txt"


def recorded(config: TrainConfig, init_from, teacher) -> TrainConfig:
    """``config`` with the paths among ``init_from`` and ``teacher`` (``fit``'s arguments) in its fields, so
    that the run's config.json names them; modules leave the fields as they are."""
    paths = {
        k: v for k, v in (("init_from", init_from), ("distill_from", teacher)) if isinstance(v, (str, os.PathLike))
    }
    return dataclasses.replace(config, **{k: os.fspath(v) for k, v in paths.items()}) if paths else config


def _module_identity(module: nn.Module, argument: str) -> dict:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{argument}: expected a checkpoint path or an nn.Module, got {type(module).__name__}")
    return dict(path=f"<{type(module).__name__} given to fit>", sha256=None, model_name=type(module).__name__)


def _trained(source, argument: str) -> tuple[nn.Module, dict]:
    """The module and identity of a checkpoint path, or of a module (a copy: conversion changes it in place)."""
    if isinstance(source, (str, os.PathLike)):
        return load_trained(os.fspath(source), argument)
    identity = _module_identity(source, argument)
    return copy.deepcopy(source), identity


@dataclass
class Start:
    """The model to train, the distillation (or None), what the header says, and what a new run's folder
    records (empty for a resumed run or one without trained networks)."""

    model: nn.Module
    distill: Distillation | None
    told: str
    record: dict
    report: str | None

    def save(self, out: str) -> None:
        """Write ``warm_start.json`` (a new run from a trained network) and ``conversion.txt`` (when something
        was converted) into ``out``; nothing for a resumed run, whose folder holds them."""
        if not self.record:
            return
        atomic_text(os.path.join(out, RECORD), json.dumps(self.record, indent=2, sort_keys=True) + "\n")
        if self.report is not None:
            atomic_text(os.path.join(out, REPORT), self.report + "\n")


def _initialized(config, loader, init_from, device, memory_format):
    """(model, header text, identity, report) of the ``init_from`` start on ``device``."""
    base_name = baseline_of(config.model)
    baseline, identity = _trained(init_from, "init_from")
    if isinstance(init_from, (str, os.PathLike)) and identity["model_name"] != base_name:
        raise ValueError(
            f"init_from: {init_from} holds a {identity['model_name']} checkpoint; expected a "
            f"checkpoint of {base_name}, the baseline of {config.model}"
        )
    if identity.get("num_classes", loader.num_classes) != loader.num_classes:
        raise ValueError(
            f"init_from: {init_from} classifies {identity['num_classes']} classes; expected "
            f"{loader.num_classes}, those of {config.dataset}"
        )
    steps = min(RECALIBRATION_BATCHES, loader.train_steps())
    batches = itertools.islice(loader.train_batches(0), steps)
    converted = warm_start(baseline.to(device, memory_format=memory_format), config.model, loader.num_classes, batches)
    report = converted.conversion_report
    worst = report.max_rel_error
    told = (
        f"initialized from {describe_identity(identity)} by SVD conversion ({len(report.layers)} layers, "
        f"max rank-1 error {worst:.3g}), BatchNorm recalibrated on {steps} batches"
    )
    return converted, told, identity, report.table()


def start(
    config: TrainConfig, model: nn.Module, loader, memory_format, resuming: bool, out: str, init_from=None, teacher=None
) -> Start:
    """The run's start from ``init_from`` and its teacher ``teacher`` (paths or modules; None: the config's
    fields). ``model`` is the freshly built zoo model on the run's device."""
    init_from = config.init_from if init_from is None else init_from
    teacher = config.distill_from if teacher is None else teacher
    device = next(model.parameters()).device
    told, record, report = [], {}, None
    if init_from is not None and not resuming:
        model, text, record["init_from"], report = _initialized(config, loader, init_from, device, memory_format)
        told.append(text)
    distill = None
    if teacher is not None:
        net, identity = _trained(teacher, "distill_from")
        distill = Distillation(
            net.to(device, memory_format=memory_format), config.distill_temperature, config.distill_weight
        )
        distill.check_classes(loader.input_size, loader.num_classes, device, identity["path"])
        if resuming:
            _check_same_teacher(out, identity)
        else:
            record["distill_from"] = identity
        told.append(
            f"distilling from {describe_identity(identity)} at T {config.distill_temperature:g}, weight "
            f"{config.distill_weight:g}"
        )
    return Start(model, distill, "; ".join(told), record, report)


def _check_same_teacher(out: str, identity: dict) -> None:
    path = os.path.join(out, RECORD)
    if not os.path.isfile(path) or identity.get("sha256") is None:
        return
    with open(path) as f:
        before = json.load(f).get("distill_from") or {}
    if before.get("sha256") not in (None, identity["sha256"]):
        raise ValueError(
            f"distill_from: {identity['path']} is not the teacher the run began with (SHA-256 "
            f"{identity['sha256'][:12]}..., recorded {before['sha256'][:12]}...); a resumed run "
            f"continues exactly only with the same teacher"
        )
