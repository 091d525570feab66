"""One training or validation step, and the per-epoch bookkeeping around it.

A step returns its loss and correct-prediction count as a small tensor that stays on the
device; `EpochMeter` reads it back only `lag` steps later. On a GPU (lag 1) the host therefore
never waits for the step it has just queued: while it reads step k's loss, step k+1 already
runs. On the CPU there is nothing to overlap and events go out at once (lag 0).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import torch
from torch import nn

from ..events import BatchEnded, Work
from ..models.kinds import HeadKind, kind_of
from .autobatch import Chunking
from .hooks import Stepping
from .recipe import autocast

# the model (or its DistributedDataParallel wrapper) and a batch of images -> logits
Forward = Callable[[Any, torch.Tensor], torch.Tensor]


@dataclass
class Optim:
    """What a step updates the weights with: the optimizer, its schedule, the loss scaler
    (none: an unscaled step)."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None = None


class Stepper:
    """Runs optimizer steps and validation batches, splitting batches when memory runs out."""

    def __init__(self, model: nn.Module, forward: Forward, optim: Optim, device: torch.device,
                 dtype: torch.dtype | None = None, label_smoothing: float = 0.0,
                 task: Work | None = None, weights: torch.Tensor | None = None) -> None:
        """`weights`: the loss weight of each class (`data.balance.class_weights`), or None."""
        self.model, self.forward = model, forward
        self.optimizer, self.scheduler = optim.optimizer, optim.scheduler
        self.scaler = optim.scaler or torch.amp.GradScaler(enabled=False)
        self.device, self.dtype = device, dtype
        self.label_smoothing, self.weights = label_smoothing, weights
        self.chunking = Chunking(device, task)
        self.kind: HeadKind = kind_of(model)  # the head's loss and metrics

    def step(self, batch: Any) -> torch.Tensor:
        """One optimizer step on a `batches.Batch`."""
        return self.train(batch.x, batch.y)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.dtype):
            return self.forward(self.model, x).float()

    def train(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One optimizer step on (x, y); returns [summed loss, correct] on the device."""
        return self.chunking.run(partial(self._train, x, y), len(y))

    def _train(self, x: torch.Tensor, y: torch.Tensor, chunks: int) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        stats = torch.zeros(2, device=y.device)
        for i, (xc, yc) in enumerate(zip(x.tensor_split(chunks), y.tensor_split(chunks),
                                         strict=True)):
            with self.accumulating(i < chunks - 1):
                logits = self._logits(xc)
                loss = self._loss(logits, yc, self.label_smoothing, weighted=True)
                share = loss if chunks == 1 else loss * (len(yc) / len(y))
                self.scaler.scale(share).backward()
            stats += self._stats(self.plain(logits, yc, loss) * len(yc), logits.detach(), yc)
        self._step()
        return stats

    def accumulating(self, more: bool) -> contextlib.AbstractContextManager[Any]:
        """The context of one chunk's backward pass; `more`: chunks of the step follow (a
        distributed stepper then keeps the gradients to itself until the last one)."""
        return contextlib.nullcontext()

    def combine(self, totals: torch.Tensor) -> torch.Tensor:
        """Summed figures of this process's batches, summed over every process of the run
        (one process: as they are)."""
        return totals

    def plain(self, logits: torch.Tensor, y: torch.Tensor, loss: torch.Tensor) -> torch.Tensor:
        """The loss to report: without label smoothing or class weights, comparable with the
        validation loss (`loss` itself when there are neither)."""
        plain = not self.label_smoothing and self.weights is None
        return loss.detach() if plain else self._loss(logits.detach(), y)

    def _loss(self, logits: torch.Tensor, y: torch.Tensor, smoothing: float = 0.0,
              reduction: str = "mean", weighted: bool = False) -> torch.Tensor:
        """The head's loss (`kind`); `weighted`: with the class weights of unbalanced
        classes, if any (training only)."""
        return self.kind.loss(logits, y, smoothing, reduction,
                              self.weights if weighted else None)

    def _stats(self, loss_sum: torch.Tensor, logits: torch.Tensor,
               y: torch.Tensor) -> torch.Tensor:
        return torch.stack([loss_sum, self.kind.correct(logits, y)])

    def _step(self) -> None:
        """The optimizer step on the accumulated gradients, then the schedule's."""
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """[summed loss, correct] of one validation batch, on the device."""
        return self.chunking.run(partial(self._evaluate, x, y), len(y))

    def _evaluate(self, x: torch.Tensor, y: torch.Tensor, chunks: int) -> torch.Tensor:
        """[summed loss, correct], then each of the head's tasks' correct images (if any)."""
        stats = torch.zeros(2 + len(self.kind.tasks), device=y.device)
        for xc, yc in zip(x.tensor_split(chunks), y.tensor_split(chunks), strict=True):
            logits = self._logits(xc)
            both = self._stats(self._loss(logits, yc, reduction="sum"), logits, yc)
            stats += torch.cat([both, self.kind.task_hits(logits, yc)])
        return stats


@dataclass
class _Pending:
    batch: int
    step: int
    stats: torch.Tensor
    size: int
    lr: float


class EpochMeter:
    """Sums an epoch's losses and accuracy and sends `BatchEnded`, reading each step's
    results `lag` steps after it was queued."""

    def __init__(self, task: Work, epoch: int, steps: int, lag: int = 0) -> None:
        self.task, self.epoch, self.steps, self.lag = task, epoch, steps, lag
        self.pending: deque[_Pending] = deque()
        self.loss_sum = self.correct = 0.0
        self.seen = self.batches = 0
        self.started = time.perf_counter()

    def add(self, step: int, stats: torch.Tensor, size: int, lr: float) -> None:
        self.batches += 1
        self.pending.append(_Pending(self.batches, step, stats, size, lr))
        while len(self.pending) > self.lag:
            self._resolve(self.pending.popleft())

    def _resolve(self, item: _Pending) -> None:
        loss_sum, correct = item.stats.tolist()
        self.loss_sum += loss_sum
        self.correct += correct
        self.seen += item.size
        ips = self.seen / max(time.perf_counter() - self.started, 1e-9)
        self.task.emit(BatchEnded(self.epoch, item.batch, self.steps, item.step,
                                  loss_sum / max(item.size, 1), item.lr, ips))

    def finish(self) -> tuple[float, float, float]:
        """(mean loss, accuracy, images per second) of the epoch."""
        while self.pending:
            self._resolve(self.pending.popleft())
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        seen = max(self.seen, 1)
        return self.loss_sum / seen, self.correct / seen, self.seen / elapsed


class Scores(NamedTuple):
    """A validation's mean loss and accuracy (None without images), and each of the head's
    tasks' accuracy (empty for a single-label head)."""

    loss: float | None
    acc: float | None
    tasks: dict[str, float]


def evaluate_batches(stepper: Stepping, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                     check: Callable[[], None]) -> Scores:
    """Mean loss and accuracy over `batches`, read back from the device once at the end."""
    total: torch.Tensor | None = None
    seen = 0
    for x, y in batches:
        check()
        stats = stepper.evaluate(x, y)
        total = stats if total is None else total + stats
        seen += len(y)
    names = stepper.kind.tasks
    mine = torch.zeros(2 + len(names)) if total is None else total.float().cpu()
    *sums, seen_all = stepper.combine(torch.cat([mine, torch.tensor([seen],
                                                 dtype=torch.float)])).tolist()
    if not seen_all:
        return Scores(None, None, {})
    loss_sum, correct, *tasks = sums
    return Scores(loss_sum / seen_all, correct / seen_all,
                  {n: c / seen_all for n, c in zip(names, tasks, strict=True)})
