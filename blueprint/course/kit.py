"""What every lesson shares: where figures go, the fast mode, the digits data and a small regular CNN.

It is part of the installed package, so that a lesson's notebook downloaded from the book runs in any
folder with only blueprint installed.

- ``OUT``: the folder figures are saved to, ``$BLUEPRINT_TUTORIAL_OUT`` or ``figures/`` in the working folder.
- ``FAST``: ``$BLUEPRINT_TUTORIAL_FAST=1`` shrinks training and timing so that the test suite can run every
  lesson in seconds; the lessons' claims are still checked, with looser bounds where training is shorter.
- ``one_thread()``: torch on one thread, which the lessons call first (their networks are tiny).
- ``save(fig, name, caption)``: writes ``OUT/name`` as PNG through ``blueprint.plotting.save`` (the lessons draw
  on ``blueprint.plotting.figure``, as wide as the book's column) and shows it with its caption; ``show(path,
  caption)``: shows a saved PNG in a notebook, the caption as Markdown below it, after
  ``blueprint.plotting.check_readable`` (no text of a lesson's figure reads below 10 pt in the book's column).
- ``digits()``: scikit-learn's bundled 8x8 handwritten digits (no download), split as ``blueprint train`` splits
  them and standardized.
- ``digits_cnn()``: the zoo's small regular CNN for them; ``train``: a plain training loop, written out with torch
  only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from matplotlib.figure import Figure

from blueprint import plotting

OUT = Path(os.environ.get("BLUEPRINT_TUTORIAL_OUT") or "figures")
FAST = os.environ.get("BLUEPRINT_TUTORIAL_FAST", "0") not in ("", "0")


def one_thread() -> None:
    """torch on one thread: the lessons' networks are tiny, one thread is as fast as several, and on a shared
    machine it avoids the oversubscription that can make a many-threaded run 100x slower."""
    torch.set_num_threads(1)


@dataclass(frozen=True)
class Shown:
    """A PNG file on disk. Jupyter displays it inline (``_repr_png_``); a script ignores it."""

    path: Path

    def _repr_png_(self) -> bytes:
        return self.path.read_bytes()


def show(path: Path, caption: str) -> None:
    """Show the PNG at ``path`` and then ``caption`` (Markdown, math in ``$``) in a notebook; print it in a script.

    The caption is text beside the image, not pixels in it: the book turns it into the figure's caption and
    alt text. Raises ``ValueError`` (``blueprint.plotting.check_readable``) for a PNG whose text the book would
    show below 10 pt: where the library's ``save`` only warns, a lesson's figure must be readable.
    """
    plotting.check_readable(path)
    from IPython import get_ipython

    if get_ipython() is None:
        print(f"{path}: {caption}")
        return
    from IPython.display import Markdown, display

    display(Shown(path))
    display(Markdown(f"**Figure.** {caption}"))


def save(fig: Figure, name: str, caption: str) -> None:
    """Write ``fig`` to ``OUT/name`` (PNG) and ``show`` it with ``caption``.

    The lessons draw on ``matplotlib.figure.Figure`` without pyplot, so nothing else would show the figure in a
    notebook; showing the saved file shows exactly the PNG a script writes. ``show`` raises ``ValueError`` for
    text that the book would show below 10 pt.
    """
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    plotting.save(fig, path)
    show(path, caption)


@dataclass
class Digits:
    """The 8x8 digits as tensors: x (B, 1, 8, 8) standardized with the training set's statistics, y (B,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits(seed: int = 0, test_fraction: float = 0.25) -> Digits:
    """scikit-learn's 1,797 handwritten digits as ``blueprint train --dataset digits`` splits them
    (``blueprint.training.digits``: stratified by class, ``seed`` the split's), standardized as floats."""
    from blueprint.training.digits import load_digits

    data = load_digits(test_fraction, split_seed=seed)
    x_train, x_test = data.x_train.float(), data.x_test.float()  # B,1,8,8
    mean, std = x_train.mean(), x_train.std(correction=0)
    return Digits((x_train - mean) / std, data.y_train, (x_test - mean) / std, data.y_test)


def digits_cnn() -> nn.Module:
    """The zoo's ``digits_cnn`` (``blueprint.models.digits``: two stages of two regular 3x3 convolutions,
    ``features.0``-``1`` at 8x8 and ``features.3``-``4`` at 4x4), with PyTorch's default initialization.

    The zoo starts from the official implementation's initialization, Kaiming-uniform weights about 2.4 times
    larger; over a lesson's 40 epochs their random part would not fade, and the trained slices of lesson 1 would
    show their shared pattern far less clearly.
    """
    from blueprint.models import create

    model = create("digits_cnn")
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The fraction of ``x`` that ``model`` classifies as ``y`` (eval mode, no gradients)."""
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def train(
    model: nn.Module,
    data: Digits,
    epochs: int,
    lr: float = 0.05,
    weight_decay: float = 5e-3,
    batch_size: int = 64,
    seed: int = 0,
    extra_loss=None,
) -> list[float]:
    """SGD with momentum 0.9 and weight decay (Sec. 5's protocol, cosine schedule) on cross-entropy.

    ``extra_loss(model)``, if given, is added to every batch's loss. Returns the test accuracy after each epoch.
    The weight decay is larger than the paper's 1e-4: over a few dozen epochs it lets the random
    initialization fade as a hundred epochs would.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    history = []
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(data.y_train), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = nn.functional.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
            if extra_loss is not None:
                loss = loss + extra_loss(model)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        schedule.step()
        history.append(accuracy(model, data.x_test, data.y_test))
    return history


def conv_kernels(model: nn.Module) -> dict[str, np.ndarray]:
    """Each regular KxK convolution's kernel (N, M, K, K) as float64, for those with M >= 2 slices per filter
    (K > 1: not the 1x1 classifier)."""
    return {
        name: module.weight.detach().double().numpy().copy()
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
        and module.groups == 1
        and module.in_channels >= 2
        and module.kernel_size != (1, 1)
    }
