"""Data sets held in memory as tensors (CIFAR, digits), augmented a whole batch at a time on the device.

The images stay uint8 on the device; a batch is gathered by index, normalized and given random horizontal
flips and shifts of up to ``shift`` pixels in one indexing operation: no per-image Python work and no
torchvision. Orders and augmentations come from ``sampling`` (seed and epoch alone), so a resumed run sees the
same batches as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from blueprint.training.sampling import epoch_generator, eval_order, train_order, train_steps


@dataclass
class TensorDataset:
    """Images as uint8 (B, C, H, W) whose full intensity is ``scale``, labels as int64 (B,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    scale: float
    classes: tuple[str, ...] | None = None  # the class names (None: the labels as numbers)


def shift_and_flip(x: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor, pad: int) -> torch.Tensor:
    """Shift each image by ``shifts[b] = (dy, dx)`` pixels (|dy|, |dx| <= pad, zeros enter) and mirror it where
    ``flips[b]``: one gather from the zero-padded batch.

    x: (B, C, H, W); shifts: (B, 2) int64; flips: (B,) bool. Returns (B, C, H, W) in channels_last layout.
    Output pixel (i, j) of image b reads padded pixel (i + pad + dy, j' + pad + dx), j' = W-1-j if flipped.
    """
    B, C, H, W = x.shape
    padded = F.pad(x, (pad, pad, pad, pad)).permute(0, 2, 3, 1)  # B,H+2p,W+2p,C
    rows = torch.arange(H, device=x.device) + pad + shifts[:, :1]  # B,H
    cols = torch.arange(W, device=x.device).expand(B, W)  # B,W
    cols = torch.where(flips[:, None], W - 1 - cols, cols) + pad + shifts[:, 1:]  # B,W
    batch = torch.arange(B, device=x.device)[:, None, None]  # B,1,1
    return padded[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)  # B,C,H,W


def channel_stats(x: torch.Tensor, scale: float, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of ``x / scale`` (x: B, C, H, W), in float64, a chunk at a time
    (CIFAR-10 as float64 at once would take 1.2 GB)."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)  # C
    squares = torch.zeros(x.shape[1], dtype=torch.float64)  # C
    for part in x.split(chunk):
        pixels = part.double() / scale  # b,C,H,W
        total += pixels.sum(dim=(0, 2, 3))
        squares += (pixels * pixels).sum(dim=(0, 2, 3))
    n = x.numel() // x.shape[1]
    mean = total / n
    return mean, (squares / n - mean * mean).clamp_min(1e-12).sqrt()


class MemoryLoader:
    """Batches of a ``TensorDataset`` on ``device`` for one process of ``world`` (``rank``).

    ``batch_size`` is per process. Training batches are shuffled, flipped and shifted; test batches are not.
    """

    def __init__(
        self,
        data: TensorDataset,
        device,
        batch_size: int,
        flip: bool,
        shift: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        channels_last: bool = False,
    ):
        self.num_classes = data.num_classes
        self.classes = data.classes or tuple(str(i) for i in range(data.num_classes))
        self.resize = None  # the images are already at the input size
        self.input_size = tuple(data.x_train.shape[1:])
        self.num_train, self.num_test = len(data.y_train), len(data.y_test)
        self.batch_size, self.flip, self.shift, self.seed = batch_size, flip, shift, seed
        self.rank, self.world = rank, world
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.x_train, self.y_train = data.x_train.to(device), data.y_train.to(device)
        self.x_test, self.y_test = data.x_test.to(device), data.y_test.to(device)
        mean, std = channel_stats(data.x_train, data.scale)  # C, C
        self.mean, self.std = tuple(mean.tolist()), tuple(std.tolist())  # of intensities in [0, 1]
        # normalized = (x / scale - mean) / std = x * gain + offset, per channel
        self.gain = (1.0 / (data.scale * std)).float().view(1, -1, 1, 1).to(device)
        self.offset = (-mean / std).float().view(1, -1, 1, 1).to(device)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() * self.gain + self.offset).contiguous(memory_format=self.memory_format)

    def train_steps(self) -> int:
        return train_steps(self.num_train, self.batch_size, self.world)

    def train_batches(self, epoch: int):
        """Yield (x, y) for ``epoch``: x float32 (B, C, H, W) normalized and augmented, y int64 (B,)."""
        device = self.x_train.device
        order = train_order(self.num_train, self.seed, epoch, self.rank, self.world).to(device)
        g = epoch_generator(self.seed, epoch, stream=1)
        shifts = torch.randint(-self.shift, self.shift + 1, (self.num_train, 2), generator=g).to(device)
        flips = (torch.rand(self.num_train, generator=g) < 0.5).to(device) & self.flip
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            x = self._normalize(self.x_train[idx])
            if self.shift or self.flip:
                x = shift_and_flip(x, shifts[idx], flips[idx], self.shift)
            yield x.contiguous(memory_format=self.memory_format), self.y_train[idx]

    def test_batches(self):
        """Yield (x, y) over this process's share of the test set, in order and without augmentation."""
        order = eval_order(self.num_test, self.rank, self.world).to(self.x_test.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield self._normalize(self.x_test[idx]), self.y_test[idx]
