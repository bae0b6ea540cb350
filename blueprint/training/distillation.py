"""Knowledge distillation from a trained teacher's logits (Hinton, Vinyals & Dean, 2015).

With student logits s, teacher logits t, temperature T and weight a, the loss of a batch is

    `(1 - a) CE(s, y) + a T^2 KL(softmax(t / T) || softmax(s / T))`,

the KL divergence averaged over the batch; the factor `T^2` keeps its gradients on the scale of the
cross-entropy's as T changes. ``TrainConfig``'s defaults, T = 4 and a = 0.9, are the knowledge-distillation baseline of
Tian, Krishnan & Isola, "Contrastive Representation Distillation" (ICLR 2020), a common choice for CIFAR-sized
students. The teacher runs in eval mode without gradients on the very batch the student sees (the same
augmentation), under the same autocast as the student, and never takes part in DDP or torch.compile.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """`T^2 KL(softmax(t / T) || softmax(s / T))`, the mean over the batch of `sum_c p_c (log p_c - log q_c)`.

    student_logits, teacher_logits: (B, classes). Computed in float32 from log-softmaxes (no log of 0).
    """
    log_q = F.log_softmax(student_logits.float() / temperature, dim=1)  # B,classes
    log_p = F.log_softmax(teacher_logits.float() / temperature, dim=1)  # B,classes
    return F.kl_div(log_q, log_p, reduction="batchmean", log_target=True) * temperature**2


@dataclass
class Distillation:
    """A teacher (kept in eval mode, without gradients) and the temperature and weight of the loss above."""

    teacher: nn.Module
    temperature: float
    weight: float

    def __post_init__(self):
        if not isinstance(self.teacher, nn.Module):
            raise TypeError(f"teacher: expected an nn.Module, got {type(self.teacher).__name__}")
        self.teacher.eval().requires_grad_(False)

    def loss(self, ce: torch.Tensor, student_logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """`(1 - a)` ``ce`` + `a T^2` KL for the batch ``x`` whose student logits are ``student_logits``."""
        with torch.no_grad():
            teacher_logits = self.teacher(x)  # B,classes
        kd = distillation_loss(student_logits, teacher_logits, self.temperature)
        return (1.0 - self.weight) * ce + self.weight * kd

    def check_classes(self, input_size: tuple[int, ...], num_classes: int, device, origin: str) -> None:
        """Refuse a teacher whose logits do not have ``num_classes`` entries, in one line naming ``origin``."""
        with torch.no_grad():
            out = self.teacher(torch.zeros(2, *input_size, device=device))
        if out.ndim != 2 or out.shape[1] != num_classes:
            raise ValueError(
                f"distill_from: the teacher {origin} gives logits of shape {tuple(out.shape[1:])}; "
                f"expected {num_classes} classes, those of the data set"
            )
