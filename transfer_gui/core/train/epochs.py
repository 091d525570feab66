"""The one training loop: epochs of optimizer steps and validation, with hooks at named points.

`run_epochs(fit, hooks)` is all a run, the LP-FT probe and the LR range test have in common: the
batch source (built here unless the caller brought one), the step (`steps.Stepper`, with the
loss scaler and the out-of-memory splitting), the per-epoch seed, files that fail to load left
out and named once, and the calls to the hooks (`hooks.Hook`, in the order they declare:
`hooks.Hooks`): `on_fit_start`, then per epoch `on_epoch_start`, `on_batch_start` and
`on_batch_end` around each step, `on_epoch_end`. A hook
that fills `fit.row` at `on_epoch_start` replaces the epoch's training (the probe, a classic
head); one that sets `fit.stop` ends the run. How a run ends (`on_fit_end`, `on_fit_failed`)
is the caller's (`loop.fit`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch

from ..data.balance import class_counts, class_weights
from ..events import Work
from ..models.layers import train_mode
from .hooks import FitState, Hooks, Stepping
from .prepare import Prepared, on_features
from .recipe import amp_dtype, channels_last_for, configure_device
from .sources import build_source
from .steps import EpochMeter, Optim, Scores, Stepper, evaluate_batches
from .threads import apply_plan, plan_threads


def open_fit(prep: Prepared, device: torch.device, task: Work) -> FitState:
    """The run's state with its model on `device` (optimizer and source still to come)."""
    cfg = prep.config.train
    model = prep.model.to(device)
    configure_device(device)
    threads = plan_threads(device.type, cfg.num_workers)
    apply_plan(threads)
    task.message("info", threads.text())
    channels_last = channels_last_for(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return FitState(task, prep, model, device, amp_dtype(device, cfg.mixed_precision),
                    channels_last, on_features(prep), cfg.epochs or 1, threads=threads)


def run_epochs(fit: FitState, hooks: Hooks) -> str:
    """Train until the last epoch or a hook's stop; returns how the run ended."""
    if fit.source is None:
        fit.source = build_source(fit)
        fit.skip_failed(getattr(fit.source, "failed", ()))
    hooks.on_fit_start(fit)
    while fit.run.epoch < fit.epochs and not fit.stop:
        fit.start_epoch()
        hooks.on_epoch_start(fit)
        if fit.row is None:
            fit.row = _train_and_validate(fit, hooks)
        fit.run.epoch = fit.epoch
        fit.run.history.append(fit.row)
        hooks.on_epoch_end(fit)
    return fit.stop or "completed"


def _stepper(fit: FitState) -> Stepping:
    if fit.stepper is None:
        assert fit.optimizer is not None
        make = fit.make_stepper or Stepper
        fit.stepper = make(fit.model, fit.batch_source.forward,
                           Optim(fit.optimizer, fit.schedule, fit.scaler), fit.device,
                           fit.dtype, fit.prep.config.train.label_smoothing, fit.task,
                           weights=loss_weights(fit))
    return fit.stepper


def loss_weights(fit: FitState) -> torch.Tensor | None:
    """The class weights of the loss when the run's recipe asks for them, else None."""
    prep = fit.prep
    if prep.config.train.balance != "weighted":
        return None
    counts = class_counts([s.label for s in prep.train], len(prep.classes))
    return class_weights(counts).to(fit.device)


def _train_and_validate(fit: FitState, hooks: Hooks) -> dict[str, Any]:
    train_loss, train_acc, ips = _train_epoch(fit, hooks)
    fit.model.eval()
    scores = Scores(None, None, {})
    if fit.validate:
        scores = evaluate(fit, fit.batch_source.val_batches())
    row: dict[str, Any] = {
        "epoch": fit.epoch, "train_loss": train_loss, "train_acc": train_acc,
        "val_loss": scores.loss, "val_acc": scores.acc, "target_acc": None, "lr": fit.lr,
        "images_per_s": ips, "seconds": time.perf_counter() - fit.epoch_started}
    if scores.tasks:  # a head with several tasks (or a multi-label one): each one's accuracy
        row["task_acc"] = scores.tasks
    return row


def _train_epoch(fit: FitState, hooks: Hooks) -> tuple[float, float, float]:
    stepper = _stepper(fit)
    train_mode(fit.model, bool(fit.prep.config.train.freeze_bn))
    lag = 1 if fit.device.type == "cuda" else 0  # read each loss one step late: no sync
    meter = EpochMeter(fit.task, fit.epoch, fit.batch_source.steps_per_epoch, lag)
    for batch in fit.batch_source.train_epoch(fit.epoch):
        fit.task.check()
        fit.skip_failed(batch.failed)
        if batch.partner is not None:
            fit.skip_failed(batch.partner.failed)
        if not len(batch.y):
            continue
        fit.batch = batch
        hooks.on_batch_start(fit)
        fit.stats = stepper.step(batch)
        fit.run.step += 1
        meter.add(fit.run.step, fit.stats, len(batch.y), fit.lr)
        hooks.on_batch_end(fit)
        if fit.stop:
            break
    return meter.finish()


def evaluate(fit: FitState, batches: Iterable[Any]) -> Scores:
    """Mean loss and accuracy over `batches` (files that failed to load left out and named)."""

    def readable() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in batches:
            fit.skip_failed(batch.failed)
            if len(batch.y):
                yield batch.x, batch.y

    return evaluate_batches(_stepper(fit), readable(), fit.task.check)
