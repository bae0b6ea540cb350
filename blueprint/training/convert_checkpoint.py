"""``convert_checkpoint(path, to)``: a trained baseline's checkpoint as a checkpoint of its BSConv variant in the zoo.

What ``blueprint convert`` runs, for users who fine-tune in their own loop. The target is the zoo name the
baseline and the variant's transform make (``digits_cnn`` + ``to="bsconv_u"`` -> ``digits_cnn_bsconvu``,
``to="bsconv_s", p=1/4`` -> ``digits_cnn_bsconvs_p1d4``); the weights are converted by ``warm_start`` (SVD, the
zoo model's exact state_dict). When the checkpoint names the data set of its run (``blueprint train`` writes
it), BatchNorm is recalibrated on its training batches and the test accuracy measured before and after.

The file written is a checkpoint of the target (``model``, ``model_name``, ``num_classes``, ``input_size``,
``config``: the baseline's run with ``model`` and ``init_from`` changed, ``epoch`` 0), which ``blueprint
evaluate`` and ``blueprint export`` read as the zoo model of its name, and which a loop of one's own loads with
``create(name).load_state_dict(checkpoint["model"])``.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from dataclasses import dataclass

import torch.nn as nn

from blueprint.conversion import TARGETS
from blueprint.models import list_models
from blueprint.models.variants import ToBSConvS, ToBSConvU
from blueprint.training.trained import describe_identity, load_trained
from blueprint.training.warm_start import RECALIBRATION_BATCHES, convert_baseline, inner_batchnorms


def target_name(baseline: str, to: str, p: float | None) -> str:
    """The zoo name of ``baseline``'s variant ``to`` (BSConv-S: subspace ratio ``p``); one the zoo does not
    register raises ``ValueError`` listing the variants it has."""
    if to not in TARGETS:
        raise ValueError(f"to: expected one of {', '.join(TARGETS)}, got {to!r}")
    if to == "bsconv_u" and p is not None:
        raise ValueError(f"p: a subspace ratio is for to=bsconv_s, got p={p} with to={to}")
    if to == "bsconv_s" and p is None:
        raise ValueError("p: to=bsconv_s needs the subspace ratio, such as 0.25")
    name = baseline + (ToBSConvU() if to == "bsconv_u" else ToBSConvS(p)).suffix
    if name not in list_models():
        variants = list_models(f"{baseline}_bsconv*")
        raise ValueError(f"to: the zoo has no {name}; {baseline}'s variants are {', '.join(variants) or 'none'}")
    return name


@dataclass
class Converted:
    """The target's zoo name, the converted model (eval mode), the checkpoint to write, the report, and what was
    measured."""

    target: str
    model: nn.Module
    checkpoint: dict
    report: str
    told: list[str]


def _run_config(ckpt: dict, model: str, init_from: str, data_dir: str | None):
    """The baseline run's configuration with ``model`` and ``init_from`` (None when it recorded no data set)."""
    from blueprint.training.config import TrainConfig, recipe

    saved = {
        k: v for k, v in (ckpt.get("config") or {}).items() if k in {f.name for f in dataclasses.fields(TrainConfig)}
    }
    if "dataset" not in saved:
        return None
    overrides = {
        "model": model,
        "init_from": init_from,
        "device": "cpu",
        "backend": "torch",
        "compile": False,
        "download": False,
        "distill_from": None,
        **({"data_dir": data_dir} if data_dir else {}),
    }
    return recipe(saved.pop("dataset"), **{**saved, **overrides})


def convert_checkpoint(
    path: str, to: str, p: float | None = None, data_dir: str | None = None, recalibrate: bool = True
) -> Converted:
    """Convert the ``blueprint train`` checkpoint at ``path`` (see the module docstring)."""
    from blueprint.recalibration import recalibrate_bn
    from blueprint.training.checkpoint import load_checkpoint
    from blueprint.training.data import make_loader
    from blueprint.training.loop import evaluate

    baseline, identity = load_trained(path, "checkpoint")
    target = target_name(identity["model_name"], to, p)
    ckpt = load_checkpoint(path)
    config = _run_config(ckpt, target, os.path.abspath(path), data_dir)
    loader = make_loader(config, "cpu") if config is not None and recalibrate else None
    told = [f"{describe_identity(identity)} -> {target}"]
    if loader is not None:
        told.append(f"test accuracy of the baseline: {evaluate(baseline, loader, 'cpu')[1]:.2%}")
    model = convert_baseline(baseline, target, identity["num_classes"])
    if loader is not None:
        told.append(f"converted, before recalibration: {evaluate(model, loader, 'cpu')[1]:.2%}")
        steps = min(RECALIBRATION_BATCHES, loader.train_steps())
        recalibrate_bn(model, itertools.islice(loader.train_batches(0), steps), preserve=inner_batchnorms(model))
        told.append(
            f"after BatchNorm recalibration on {steps} training batches: {evaluate(model, loader, 'cpu')[1]:.2%}"
        )
    checkpoint = dict(
        model=model.state_dict(),
        model_name=target,
        num_classes=identity["num_classes"],
        input_size=ckpt.get("input_size"),
        epoch=0,
        config=dataclasses.asdict(config) if config else None,
        converted_from=identity,
    )
    return Converted(target, model.eval(), checkpoint, model.conversion_report.table(), told)
