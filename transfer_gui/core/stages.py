"""Two-stage fine-tuning as one run: first the new head alone (the backbone frozen, its
BatchNorm in eval mode) for `head_epochs`, then the layers the user chose, with discriminative
learning rates. Each stage gets a learning-rate cycle of its own; the curves continue."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from .events import Message, emit
from .layers import HEAD
from .wording import count


class Stages:
    def __init__(self, model: nn.Module, head_epochs: int, epochs: int) -> None:
        self.model = model
        self.trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        self.head_only = {n for n in self.trainable if n.split(".", 1)[0] == HEAD}
        body = self.trainable - self.head_only
        self.head_epochs = head_epochs if body and 0 < head_epochs < epochs else 0
        self.epochs = epochs

    def phases(self, steps_per_epoch: int) -> list[int] | None:
        """Steps in each stage, for the scheduler (None: a single stage)."""
        if not self.head_epochs:
            return None
        rest = self.epochs - self.head_epochs
        return [self.head_epochs * steps_per_epoch, rest * steps_per_epoch]

    def enter(self, epoch: int, callbacks: Iterable = ()) -> None:
        """Make the parameters of `epoch`'s stage trainable (and only those)."""
        if not self.head_epochs:
            return
        first = epoch <= self.head_epochs
        wanted = self.head_only if first else self.trainable
        for name, param in self.model.named_parameters():
            param.requires_grad_(name in wanted)
        if epoch in (1, self.head_epochs + 1):
            text = (f"stage 1: the head alone for {count(self.head_epochs, 'epoch')}" if first else
                    "stage 2: the chosen layers unfrozen, earlier ones with smaller rates")
            emit(list(callbacks), Message("info", text))
