"""``predict``: the top-k classes of image files, from a checkpoint of ``blueprint train`` or its ONNX file.

Both read an image alike (``load_images``): converted to the model's channels (``folder_data.as_mode``: 16-bit
and palette images keep their intensities), its short side resized to the input's height, the central H x W
cut out, intensities scaled to [0, 1]. A checkpoint's model is then given ``(x - mean) / std`` with the mean
and std it recorded; an ONNX file written by ``blueprint export`` with the normalization inside takes x itself.
So the two give the same probabilities (to float rounding).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from blueprint.training.folder_data import as_mode


@dataclass
class Predictor:
    """A model ready for images: ``run`` maps x (B, C, H, W) in [0, 1] to logits; its input size and classes."""

    run: Callable[[torch.Tensor], torch.Tensor]
    input_size: tuple[int, int, int]
    classes: tuple[str, ...] | None


def load_images(paths: list[str], input_size: tuple[int, int, int]) -> torch.Tensor:
    """The images at ``paths`` as float32 (B, C, H, W) in [0, 1] (see the module docstring)."""
    channels, height, width = input_size
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise ValueError(f"input_size: images have 1 or 3 channels, the model takes {channels}")
    out = []
    for path in paths:
        try:
            with Image.open(path) as f:
                f.load()
                img = as_mode(f, mode)
        except (OSError, UnidentifiedImageError) as err:
            raise ValueError(f"images: {path} is not a readable image ({err})") from None
        scale = height / min(img.size[1], img.size[0] * height / width)
        w, h = max(width, round(img.size[0] * scale)), max(height, round(img.size[1] * scale))
        left, top = (w - width) // 2, (h - height) // 2
        img = img.resize((w, h), Image.BILINEAR).crop((left, top, left + width, top + height))
        pixels = np.asarray(img, dtype=np.float32).reshape(height, width, channels) / 255.0  # H,W,C
        out.append(torch.from_numpy(pixels).permute(2, 0, 1))  # C,H,W
    return torch.stack(out)  # B,C,H,W


def open_predictor(source: str, argument: str = "source") -> Predictor:
    """A ``Predictor`` for ``source``: an ``.onnx`` file (its ``blueprint export`` metadata) or a checkpoint."""
    if source.endswith(".onnx"):
        return _onnx_predictor(source, argument)
    from blueprint.sources import open_checkpoint

    opened = open_checkpoint(source, argument=argument)
    pre = opened.preprocessing
    if pre is None or pre.mean is None:
        raise ValueError(f"{argument}: {source} records no input normalization; expected a checkpoint of "
                         f"`blueprint train` (written since it stores mean and std) or its ONNX file")  # fmt: skip
    from blueprint.deployment import with_normalization

    model = with_normalization(opened.obj, pre.mean, pre.std)
    return Predictor(model, tuple(pre.input_size), pre.classes)


def _onnx_predictor(path: str, argument: str) -> Predictor:
    from blueprint.deployment import onnx_metadata, onnx_session, run_onnx

    if not os.path.isfile(path):
        raise FileNotFoundError(f"{argument}: no file {path}")
    session = onnx_session(path, torch.get_num_threads())
    meta = onnx_metadata(session)
    if not meta.get("normalized_inside") or "input_size" not in meta:
        raise ValueError(f"{argument}: {path} does not take images as they are (no normalization inside, or no "
                         f"input size recorded); expected a file of `blueprint export CHECKPOINT`")  # fmt: skip
    classes = meta.get("class_names")
    return Predictor(lambda x: run_onnx(session, x), tuple(meta["input_size"]), classes and tuple(classes))


def top_k(predictor: Predictor, paths: list[str], k: int) -> list[list[tuple[str, float]]]:
    """Per image of ``paths``, the ``k`` most probable (class, probability), best first."""
    if k < 1:
        raise ValueError(f"top: expected an int >= 1, got {k}")
    with torch.no_grad():
        probs = predictor.run(load_images(paths, predictor.input_size)).float().softmax(1)  # B,classes
    names = predictor.classes or tuple(str(i) for i in range(probs.shape[1]))
    best = probs.topk(min(k, probs.shape[1]), dim=1)
    return [[(names[i], p) for p, i in zip(row_p.tolist(), row_i.tolist())]
            for row_p, row_i in zip(best.values, best.indices)]  # fmt: skip
