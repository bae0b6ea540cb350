"""``predict``: the top-k classes of image files, from a checkpoint of ``blueprint train`` or its ONNX file.

Both read an image alike (``load_images``) and as the evaluation of an image folder does: converted to RGB
(``folder_data.decode``: 16-bit and palette images keep their intensities; gray for a 1-channel model), its short
side resized to the recorded ``resize`` (the input's height where none is recorded), the central H x W cut out,
intensities scaled to [0, 1]. A checkpoint's model is then given ``(x - mean) / std`` with the mean
and std it recorded; an ONNX file written by ``blueprint export`` with the normalization inside takes x itself.
So the two give the same probabilities (to float rounding).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image

from blueprint.training.folder_data import center_or_random_box, decode


@dataclass
class Predictor:
    """A model ready for images: ``run`` maps x (B, C, H, W) in [0, 1] to logits; its input size and classes."""

    run: Callable[[torch.Tensor], torch.Tensor]
    input_size: tuple[int, int, int]
    classes: tuple[str, ...] | None
    resize: int | None = None


def load_images(paths: list[str], input_size: tuple[int, int, int], resize: int | None = None) -> torch.Tensor:
    """The images at ``paths`` as float32 (B, C, H, W) in [0, 1]: each read as an image folder's evaluation reads
    it (``folder_data.decode``, the short side resized to ``resize``, None: H, then the central H x H)."""
    channels, height, width = input_size
    if channels not in (1, 3) or height != width:
        raise ValueError(
            f"input_size: predict reads images into 1 or 3 channels of a square, the model takes "
            f"{channels}x{height}x{width}"
        )
    out = []
    for path in paths:
        img, box = decode(
            path,
            lambda w, h: center_or_random_box(w, h, max(resize or height, height), height, None),
            height,
            argument="images",
        )
        img = img.resize((height, height), Image.BILINEAR, box=box)
        pixels = np.asarray(img.convert("L") if channels == 1 else img, dtype=np.float32) / 255.0  # H,W(,3)
        out.append(torch.from_numpy(pixels).reshape(height, height, channels).permute(2, 0, 1))  # C,H,W
    return torch.stack(out)  # B,C,H,W


def open_predictor(source: str, argument: str = "source") -> Predictor:
    """A ``Predictor`` for ``source``: an ``.onnx`` file (its ``blueprint export`` metadata) or a checkpoint."""
    if source.endswith(".onnx"):
        return _onnx_predictor(source, argument)
    from blueprint.sources import open_checkpoint

    opened = open_checkpoint(source, argument=argument)
    pre = opened.preprocessing
    if pre is None or pre.mean is None:
        raise ValueError(
            f"{argument}: {source} records no input normalization; expected a checkpoint of "
            f"`blueprint train` (written since it stores mean and std) or its ONNX file"
        )
    from blueprint.deployment import with_normalization

    model = with_normalization(opened.obj, pre.mean, pre.std)
    return Predictor(model, tuple(pre.input_size), pre.classes, pre.resize)


def _onnx_predictor(path: str, argument: str) -> Predictor:
    from blueprint.deployment import onnx_metadata, onnx_session, run_onnx

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}: no file {path}")
    session = onnx_session(path, torch.get_num_threads())
    meta = onnx_metadata(session)
    if not meta.get("normalized_inside") or "input_size" not in meta:
        raise ValueError(
            f"{argument}: {path} does not take images as they are (no normalization inside, or no "
            f"input size recorded); expected a file of `blueprint export CHECKPOINT`"
        )
    classes = meta.get("class_names")
    return Predictor(
        lambda x: run_onnx(session, x), tuple(meta["input_size"]), classes and tuple(classes), meta.get("resize")
    )


def top_k(predictor: Predictor, paths: list[str], k: int) -> list[list[tuple[str, float]]]:
    """Per image of ``paths``, the ``k`` most probable (class, probability), best first."""
    if k < 1:
        raise ValueError(f"top: expected an int >= 1, got {k}")
    with torch.no_grad():
        probs = (
            predictor.run(load_images(paths, predictor.input_size, predictor.resize)).float().softmax(1)
        )  # B,classes
    names = predictor.classes or tuple(str(i) for i in range(probs.shape[1]))
    best = probs.topk(min(k, probs.shape[1]), dim=1)
    return [
        [(names[i], p) for p, i in zip(row_p.tolist(), row_i.tolist())]
        for row_p, row_i in zip(best.values, best.indices)
    ]
