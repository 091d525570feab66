"""The learning-rate finder: train briefly while raising the rate exponentially, watch the loss,
and suggest the rate where it falls fastest (the usual range test). It is the training loop
(`engine.run_epochs`) with one hook, `RangeTest`.

Discriminative rates are kept: every optimizer group moves by the same factor, so the
suggestion is the head's rate, as the `lr` setting means.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..config import RunConfig
from ..events import Callback, CancelToken, Task
from ..interrupt import cancel_points
from .engine import open_fit, run_epochs
from .hooks import FitState, Hook, Hooks
from .prepare import prepare
from .recipe import lr_ratio_for, make_optimizer, pick_device
from .sources import build_source

SMOOTHING = 0.9
DIVERGED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def suggest(lrs: list[float], smoothed: list[float]) -> tuple[float | None, str]:
    """The rate of steepest descent of the smoothed loss (in log-rate), before its minimum."""
    if len(lrs) < 5:
        return None, "too few steps to suggest a rate"
    losses = np.asarray(smoothed)
    low = int(np.argmin(losses))
    skip = max(1, len(lrs) // 10)
    if low <= skip + 1:
        return lrs[low] / 10, "the loss was lowest at the start: one tenth of that rate"
    slopes = np.gradient(losses[: low + 1], np.log(np.asarray(lrs[: low + 1])))
    steepest = skip + int(np.argmin(slopes[skip:]))
    return lrs[steepest], "steepest descent of the loss"


class RangeTest(Hook):
    """The range test as a hook of the training loop: the rates climb exponentially from
    `start` to `end` over `steps` steps (torch's `ExponentialLR`, discriminative ratios kept),
    each step's loss is noted, and the run stops after `steps` steps or once the loss
    diverges."""

    def __init__(self, task: Task, start: float, end: float, steps: int) -> None:
        self.task, self.start, self.steps = task, start, steps
        self.factor = (end / start) ** (1 / max(steps - 1, 1))
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.avg = self.weight = 0.0

    def schedule(self, optimizer: torch.optim.Optimizer,
                 base: float) -> torch.optim.lr_scheduler.LRScheduler:
        """Every group starts at the ramp's foot, keeping its ratio to the head's `base`."""
        for group in optimizer.param_groups:
            group["lr"] *= self.start / base
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.factor)

    def on_batch_start(self, fit: FitState) -> None:
        self.lrs.append(self.start * self.factor ** len(self.lrs))

    def on_batch_end(self, fit: FitState) -> None:
        assert fit.stats is not None and fit.batch is not None
        value = float(fit.stats[0]) / len(fit.batch.y)
        if not math.isfinite(value):
            self.lrs.pop()
            fit.stop = "diverged"
            return
        self.avg = SMOOTHING * self.avg + (1 - SMOOTHING) * value
        self.weight = SMOOTHING * self.weight + 1 - SMOOTHING
        self.losses.append(value)
        self.smoothed.append(self.avg / self.weight)
        self.task.progress(len(self.lrs), self.steps, "lr-find")
        diverged = len(self.smoothed) > 5 and self.smoothed[-1] > DIVERGED * min(self.smoothed)
        if diverged or len(self.lrs) >= self.steps:
            fit.stop = "completed"

    def result(self) -> LRFindResult:
        suggestion, reason = suggest(self.lrs, self.smoothed)
        return LRFindResult(self.lrs, self.losses, self.smoothed, suggestion, reason)


def lr_find(
    config: RunConfig,
    callbacks: Task | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 100,
    scan: Any = None,
) -> LRFindResult:
    """Run the range test on a fresh model built from `config` (nothing is saved). The batches
    and steps are the ones training would use: cached features for a frozen body, images
    otherwise; mixed precision with its loss scaler, batches split when memory runs out.
    `callbacks` may be a `Task` (then `cancel` is not used)."""
    task = Task.of(callbacks, cancel)
    prep = prepare(config, task, scan=scan)
    fit = open_fit(prep, pick_device(prep.config.train.device), task)
    cfg = prep.config.train
    ratio = lr_ratio_for(prep.config.model.strategy)
    fit.optimizer = make_optimizer(fit.model, prep.groups, cfg, ratio)
    test = RangeTest(task, start, end, steps)
    fit.scheduler = test.schedule(fit.optimizer, cfg.lr or 1.0)
    fit.scaler = torch.amp.GradScaler(enabled=fit.dtype == torch.float16)
    fit.epochs, fit.validate = steps, False  # epochs enough for the steps (an epoch >= 1 step)
    with cancel_points(fit.model, task):
        fit.source = build_source(fit)
        fit.task = task.quiet()  # the steps' own events are not the range test's
        run_epochs(fit, Hooks([test]))
    return test.result()
