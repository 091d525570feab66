"""What a head's outputs mean to training: its loss and its metrics, one class per kind of head.

The stepper (`train.steps.Stepper`) asks the model's kind (`kind_of`) for both and never which
kind it has:

- `SingleLabel`: one class per image (a linear head, targets are class indices):
  cross-entropy (with the class weights of unbalanced classes and label smoothing, when asked),
  an image is right when its top class is;
- `MultiLabel`: one task whose images carry any number of labels (targets: a 0/1 column per
  label): binary cross-entropy averaged over the labels, an image is right when every label is
  on the right side of 0.5;
- `SeveralTasks`: one head per task (`heads.MultiHead`): each task is one of the two kinds
  above on its columns, the loss is their weighted sum, and an image counts the share of
  tasks it gets right.

A kind with `tasks` also scores each of them apart (`task_hits`), which the loop reports as
each task's validation accuracy.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .heads import MultiHead


class HeadKind(Protocol):
    """The loss and the metrics of a kind of head."""

    tasks: tuple[str, ...]  # the tasks scored apart (none for a single-label head)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
             reduction: str = "mean", class_weights: torch.Tensor | None = None
             ) -> torch.Tensor:
        """The batch's loss, averaged (or summed) over its images."""
        ...

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The images right (a share of one for several tasks), summed over the batch."""
        ...

    def task_hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """For each of `tasks`, the images it gets right, summed over the batch."""
        ...


def _reduce(per_image: torch.Tensor, reduction: str) -> torch.Tensor:
    return per_image.sum() if reduction == "sum" else per_image.mean()


class SingleLabel:
    """A linear head over the classes; targets are class indices."""

    tasks: tuple[str, ...] = ()

    def loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
             reduction: str = "mean", class_weights: torch.Tensor | None = None
             ) -> torch.Tensor:
        # a weighted mean divides by the weights of the batch's classes, as torch defines it
        return F.cross_entropy(logits, y, class_weights, label_smoothing=smoothing,
                               reduction=reduction)

    def hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Whether each image's top class is its label (0/1)."""
        return (logits.argmax(1) == y).float()

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.hits(logits, y).sum()

    def task_hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return logits.new_zeros(0)


class MultiLabel:
    """One task whose images carry any number of its labels; targets are 0/1 per label."""

    def __init__(self, name: str, weight: float = 1.0) -> None:
        self.tasks: tuple[str, ...] = (name,)
        self.weight = weight

    def losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each image's binary cross-entropy, averaged over the labels (unweighted)."""
        return F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(dim=1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
             reduction: str = "mean", class_weights: torch.Tensor | None = None
             ) -> torch.Tensor:
        return _reduce(self.losses(logits, y) * self.weight, reduction)

    def hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Whether every label of each image is on the right side of 0.5 (0/1)."""
        return ((logits > 0).float() == y).all(dim=1).float()

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.hits(logits, y).sum()

    def task_hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.hits(logits, y).sum().reshape(1)


class SeveralTasks:
    """One head per task on the shared body (`MultiHead`): the output holds every task's
    logits side by side (`MultiHead.slices`), the targets one column per single-label task
    (the class index) and one 0/1 column per label of a multi-label task."""

    def __init__(self, head: MultiHead) -> None:
        self.tasks: tuple[str, ...] = tuple(head.names)
        self.weights = list(head.weights)
        self.parts = list(zip(head.slices(), head.target_slices(), head.multi, strict=True))

    def task_losses(self, logits: torch.Tensor, y: torch.Tensor,
                    smoothing: float = 0.0) -> torch.Tensor:
        """Each task's loss per image (N x tasks), unweighted."""
        columns = []
        for out, target, multi in self.parts:
            z, t = logits[:, out], y[:, target]
            if multi:
                columns.append(MultiLabel("").losses(z, t))
            else:
                columns.append(F.cross_entropy(z, t[:, 0].long(), reduction="none",
                                               label_smoothing=smoothing))
        return torch.stack(columns, dim=1)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
             reduction: str = "mean", class_weights: torch.Tensor | None = None
             ) -> torch.Tensor:
        weights = torch.tensor(self.weights, device=logits.device, dtype=logits.dtype)
        return _reduce(self.task_losses(logits, y, smoothing) @ weights, reduction)

    def hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Whether each task is right on each image (N x tasks, 0/1)."""
        columns = []
        for out, target, multi in self.parts:
            z, t = logits[:, out], y[:, target]
            if multi:
                columns.append(MultiLabel("").hits(z, t))
            else:
                columns.append(SingleLabel().hits(z, t[:, 0].long()))
        return torch.stack(columns, dim=1)

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.hits(logits, y).mean(dim=1).sum()

    def task_hits(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.hits(logits, y).sum(dim=0)


def kind_of(model: nn.Module) -> HeadKind:
    """The kind of `model`'s head (`model.head`): several tasks or one multi-label task for a
    `MultiHead`, else a single label."""
    head = getattr(model, "head", None)
    if not isinstance(head, MultiHead):
        return SingleLabel()
    if len(head.names) == 1 and head.multi[0]:
        return MultiLabel(head.names[0], head.weights[0])
    return SeveralTasks(head)
