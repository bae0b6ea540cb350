"""A trained zoo model from a ``blueprint train`` checkpoint, and what identifies that file.

``--init-from`` (the baseline to convert) and ``--distill-from`` (the teacher) both name such a file. The
identity recorded in a run folder (``warm_start.json``) is the file's path, its SHA-256, the model name, the
epochs it was trained and its best test accuracy: a resumed run checks that the teacher is still the same file.
"""

from __future__ import annotations

import hashlib
import os

import torch.nn as nn

from blueprint.models import create, list_models
from blueprint.training.checkpoint import load_checkpoint, load_weights


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_trained(path: str, argument: str) -> tuple[nn.Module, dict]:
    """The zoo model a checkpoint at ``path`` holds, with its weights, in eval mode, and the file's identity.

    Errors (a missing or foreign file, a model name the zoo does not know, weights that do not fit) are one
    line naming ``argument``.
    """
    ckpt = load_checkpoint(path, argument)
    name = ckpt.get("model_name")
    if name not in list_models():
        raise ValueError(
            f"{argument}: {path} names no zoo model (model_name {name!r}); expected a checkpoint of `blueprint train`"
        )
    num_classes = ckpt.get("num_classes")
    model = create(name, num_classes=num_classes)
    load_weights(model, ckpt["model"], f"{argument}: {path} (a {name} checkpoint)")
    history = ckpt.get("history") or []
    identity = dict(
        path=os.path.abspath(path),
        sha256=file_sha256(path),
        model_name=name,
        num_classes=num_classes,
        epoch=ckpt.get("epoch"),
        best_acc=ckpt.get("best_acc"),
        test_acc=history[-1].get("test_acc") if history else None,
    )
    return model.eval(), identity


def describe_identity(identity: dict) -> str:
    """``PATH (digits_cnn, epoch 15, test 98.2%)``: a checkpoint's identity for a log line."""
    told = [identity["model_name"]]
    if identity.get("epoch") is not None:
        told.append(f"epoch {identity['epoch']}")
    if identity.get("test_acc") is not None:
        told.append(f"test {identity['test_acc']:.2%}")
    return f"{identity['path']} ({', '.join(told)})"
