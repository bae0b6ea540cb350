"""The learning rate as a function of (epoch, total epochs): what a resumed run with another ``--epochs`` follows.

- ``step`` (Sec. 5.1/5.2): ``lr * lr_decay ** m``, m the number of ``milestones`` at or before ``epoch``;
- ``linear`` (Sec. 5.3): ``lr * (1 - epoch / epochs)``, decaying every epoch to reach zero after the last.

``epoch`` counts the epochs already done (0 for the first). Nothing of the schedule is stored: a run resumed
with more or fewer ``epochs`` continues the schedule that the new total defines, as an unbroken run of that
length would have it from that epoch on.
"""

from __future__ import annotations

import bisect


def learning_rate(schedule: str, lr: float, epoch: int, epochs: int, milestones=(), lr_decay: float = 0.1) -> float:
    """The learning rate of epoch ``epoch`` (0-based) of a run of ``epochs`` epochs (see the module docstring)."""
    if schedule == "linear":
        return lr * max(0.0, 1.0 - epoch / epochs)
    return lr * lr_decay ** bisect.bisect_right(milestones, epoch)


def config_learning_rate(config, epoch: int) -> float:
    """``learning_rate`` with the schedule of ``config`` (a ``TrainConfig``)."""
    return learning_rate(config.schedule, config.lr, epoch, config.epochs, config.milestones, config.lr_decay)


def set_learning_rate(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
