"""The learning-rate finder: train briefly while raising the rate exponentially, watch the loss,
and suggest the rate where it falls fastest (the usual range test). It is the training loop
(`epochs.run_epochs`) with one hook, `RangeTest`; the curve and the suggestion are
`lrcurve`'s.

Each step sends a `SweepProgress` event with its rate and loss, so the curve can be drawn as
it grows. A stopped sweep is not thrown away: `lr_find` returns the points it has (and a
suggestion when they are enough), marked `stopped`.

Discriminative rates are kept: every optimizer group moves by the same factor, so the
suggestion is the head's rate, as the `lr` setting means.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

from ...config import RunConfig
from ...events import Callback, Cancelled, CancelToken, SweepProgress, Work
from ...interrupt import cancel_points
from ..epochs import open_fit, run_epochs
from ..hooks import FitState, Hook, Hooks
from ..prepare import prepare
from ..recipe import lr_ratio_for, make_optimizer, pick_device
from ..sources import build_source
from .curve import (
    SWEEP_END,
    SWEEP_START,
    SWEEP_STEPS,
    LRFindResult,
    curve_result,
    smooth_losses,
    suggest,
)

__all__ = ["LRFindResult", "RangeTest", "lr_find", "suggest"]

DIVERGED = 4.0  # stop once the smoothed loss exceeds this multiple of its minimum


class RangeTest(Hook):
    """The range test as a hook of the training loop: the rates climb exponentially from
    `start` to `end` over `steps` steps (torch's `ExponentialLR`, discriminative ratios kept),
    each step's loss is noted and sent, and the run stops after `steps` steps or once the loss
    diverges."""

    name = "range-test"
    writes = frozenset({"stop"})

    def __init__(self, task: Work, start: float, end: float, steps: int) -> None:
        self.task, self.start, self.steps = task, start, steps
        self.factor = (end / start) ** (1 / max(steps - 1, 1))
        self.lrs: list[float] = []
        self.losses: list[float] = []

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
        self.losses.append(value)
        done = len(self.losses)
        self.task.emit(SweepProgress("lr-find", done, self.steps, self.lrs[-1], value))
        smoothed = smooth_losses(self.losses)
        diverged = done > 5 and smoothed[-1] > DIVERGED * min(smoothed)
        if diverged or done >= self.steps:
            fit.stop = "completed"

    def result(self, stopped: bool = False) -> LRFindResult:
        return curve_result(self.lrs, self.losses, stopped)


def lr_find(
    config: RunConfig,
    callbacks: Work | Iterable[Callback] = (),
    cancel: CancelToken | None = None,
    start: float = SWEEP_START,
    end: float = SWEEP_END,
    steps: int = SWEEP_STEPS,
    scan: Any = None,
) -> LRFindResult:
    """Run the range test on a fresh model built from `config` (nothing is saved). The batches
    and steps are the ones training would use: cached features for a frozen body, images
    otherwise; mixed precision with its loss scaler, batches split when memory runs out.
    `callbacks` may be a `Work` (then `cancel` is not used). Stopped through `cancel`, it
    returns the points so far (`stopped` set), with a suggestion when they are enough."""
    task = Work.of(callbacks, cancel)
    test = RangeTest(task, start, end, steps)
    try:
        _sweep(config, task, test, scan)
    except Cancelled:
        return test.result(stopped=True)
    return test.result()


def _sweep(config: RunConfig, task: Work, test: RangeTest, scan: Any) -> None:
    prep = prepare(config, task, scan=scan)
    fit = open_fit(prep, pick_device(prep.config.train.device), task)
    cfg = prep.config.train
    ratio = lr_ratio_for(prep.config.model.strategy)
    fit.optimizer = make_optimizer(fit.model, prep.groups, cfg, ratio)
    fit.scheduler = test.schedule(fit.optimizer, cfg.lr or 1.0)
    fit.scaler = torch.amp.GradScaler(enabled=fit.dtype == torch.float16)
    fit.epochs, fit.validate = test.steps, False  # epochs enough for the steps (>= 1 step each)
    with cancel_points(fit.model, task):
        fit.source = build_source(fit)
        fit.task = task.quiet()  # the steps' own events are not the range test's
        run_epochs(fit, Hooks([test]))
