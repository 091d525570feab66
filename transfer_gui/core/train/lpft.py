"""Stage 1 of LP-FT fine-tuning (Kumar et al., 2022): a linear probe first.

A new head trained for a few epochs while the layers below it already move sends large, random
gradients into the pretrained features and distorts them before it has learned anything. So a
probe-first run spends its first epoch on the linear probe itself: one forward pass of the
frozen body over the training and validation images (through the feature cache), then the
head trained on those features exactly as the "linear-probe" strategy trains it (its epochs,
learning rate and schedule, label smoothing, no augmentation, the epoch best on validation
kept). Measured on the transfer-quality benchmark, this probe generalises better than an
L-BFGS logistic head fitted to convergence (tests/bench/BENCHMARKS.md, section g). Its weights
become the network's head, and fine-tuning starts from there. The probe's validation accuracy
is the run's first epoch, so a fine-tune that never beats it keeps it.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from typing import Any

import torch

from ..config import STRATEGY_DEFAULTS
from ..data.shard import WHOLE
from .best import beats_probe, better
from .epochs import run_epochs
from .hooks import FitState, Hook, Hooks, RunState
from .ranks import SOLO
from .recipe import make_scheduler
from .sources import feature_source

KEPT_PROBE = "fine-tuning did not improve on the frozen probe: kept the probe"
UNBEATABLE = "fine-tuning skipped"  # how the message of a run ended after its probe begins
PROBE_EPOCHS, PROBE_LR, _ = STRATEGY_DEFAULTS["linear-probe"]


class Probe(Hook):
    """The probe as a hook of a probe-first run: it is epoch 1, and a run that never beats it
    says so when it ends (before the record closes, which keeps what it says)."""

    name = "probe"
    reads = frozenset({"row", "best"})
    writes = frozenset({"row", "model", "stop", "message", "notes"})
    after = ("pairing", "stages")

    def __init__(self, active: bool, ends_run: bool = True) -> None:
        # ends_run: a perfect probe ends the run, and a run that kept its probe says so; not
        # with DANN or CORAL, which train on after the probe and keep their last epoch
        self.active, self.ends_run = active, ends_run
        self.unbeatable = ""  # the message of a run ended after its probe

    def on_epoch_start(self, fit: FitState) -> None:
        if self.active and fit.epoch == 1:
            fit.row = fit_probe(fit)

    def on_epoch_end(self, fit: FitState) -> None:
        """A probe that no fine-tuning epoch could replace (`beats_probe`: it misses at most
        one validation image) ends the run, whether its epochs were set or automatic: the
        kept model is the probe either way, and the remaining epochs would only cost time."""
        row = fit.row or {}
        acc = row.get("val_acc")
        if not (self.active and self.ends_run) or acc is None or row.get("stage") != "probe":
            return
        images = len(fit.prep.val)
        if fit.run.epoch < fit.epochs and not beats_probe(1.0, acc, images):
            self.unbeatable = unbeatable_message(round(acc * images), images,
                                                 fit.epochs - fit.run.epoch)
            fit.stop = "early-stopped"

    def on_fit_end(self, fit: FitState) -> None:
        run = fit.run
        ended = fit.stop in ("completed", "early-stopped")
        if not (self.active and self.ends_run and ended and run.best_epoch == 1):
            return
        if self.unbeatable:  # said after the probe's epoch line
            fit.task.message("info", self.unbeatable)
            fit.message = self.unbeatable
            fit.notes["fine_tuning_skipped"] = True
        elif run.epoch > 1:
            fit.task.message("warning", KEPT_PROBE)
            fit.message = KEPT_PROBE
        else:
            return
        fit.notes["kept_probe"] = True


def unbeatable_message(right: int, images: int, skipped: int) -> str:
    return (f"{UNBEATABLE}: the probe got {right} of {images} validation images right, and "
            "fine-tuning replaces it only with two more right; kept the probe, "
            f"{skipped} fine-tuning epoch{'s' if skipped != 1 else ''} not run")


def fit_probe(fit: FitState) -> dict[str, Any]:
    """Train the probe on the body's features into the model's head (in place, so an optimizer
    built earlier keeps its parameters). Returns the epoch's history row."""
    started = time.perf_counter()
    source = feature_source(fit, shard=WHOLE)  # every process trains the same probe on all
    fit.skip_failed(source.failed)
    best = _train_head(fit, source)
    seconds = time.perf_counter() - started
    val = f"validation accuracy {best['val_acc']:.1%}" if best["val_acc"] is not None \
        else "no validation"
    fit.task.message("info", f"stage 1: linear probe, {PROBE_EPOCHS} epochs on cached features "
                             f"(best: epoch {best['probe_epoch']}); {val}")
    images = len(source.train_x) + len(source.val_x)
    return {"epoch": 1, "train_loss": best["train_loss"], "train_acc": best["train_acc"],
            "val_loss": best["val_loss"], "val_acc": best["val_acc"], "target_acc": None,
            "lr": 0.0, "images_per_s": images / max(seconds, 1e-9), "seconds": seconds,
            "stage": "probe", "probe_epochs": PROBE_EPOCHS}


class _KeepBest(Hook):
    """Keeps the head of the epoch best on validation (the latest without validation) and
    puts it back when the probe's epochs end."""

    name = "keep-best"
    reads = frozenset({"row"})
    writes = frozenset({"model"})

    def __init__(self) -> None:
        self.best: dict[str, Any] = {}

    def on_epoch_end(self, fit: FitState) -> None:
        row, best = fit.row, self.best
        assert row is not None
        if not best or better(row["val_acc"], row["val_loss"], best["val_acc"],
                              best["val_loss"]):
            self.best = {"probe_epoch": row["epoch"], "val_acc": row["val_acc"],
                         "val_loss": row["val_loss"], "train_loss": row["train_loss"],
                         "train_acc": row["train_acc"],
                         "state": copy.deepcopy(fit.model.head.state_dict())}

    def on_fit_end(self, fit: FitState) -> None:
        fit.model.head.load_state_dict(self.best.pop("state"))


def _train_head(outer: FitState, source: Any) -> dict[str, Any]:
    """The linear-probe strategy's epochs on the cached features, through the training loop
    (its steps' events unseen: the probe is one epoch of the run)."""
    cfg, model = outer.prep.config.train, outer.model
    params = list(model.head.parameters())  # as `param_groups`: no weight decay on 1-D tensors
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
         {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}], lr=PROBE_LR)
    fit = dataclasses.replace(
        outer, task=outer.task.quiet(), epochs=PROBE_EPOCHS, run=RunState(),
        optimizer=optimizer, scaler=None, source=source, stepper=None, make_stepper=None,
        scheduler=make_scheduler(optimizer, cfg.schedule, PROBE_EPOCHS * source.steps_per_epoch),
        use_features=True, stop="", notes={}, started=None, problems={}, ranks=SOLO)
    keep = _KeepBest()
    hooks = Hooks([keep])
    run_epochs(fit, hooks)
    hooks.on_fit_end(fit)
    return keep.best
