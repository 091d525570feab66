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
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from ..config import STRATEGY_DEFAULTS
from ..data.batches import FeatureBatches
from ..events import CancelToken, Message, check, emit
from .recipe import default_workers, make_scheduler
from .runrecord import better
from .sources import feature_source
from .steps import Stepper, evaluate_batches

if TYPE_CHECKING:
    from .prepare import Prepared

KEPT_PROBE = "fine-tuning did not improve on the frozen probe: kept the probe"
PROBE_EPOCHS, PROBE_LR, _ = STRATEGY_DEFAULTS["linear-probe"]


def fit_probe(prep: Prepared, device: torch.device, dtype: torch.dtype | None,
              callbacks: Iterable = (), cancel: CancelToken | None = None) -> dict[str, Any]:
    """Train the probe on the body's features into `prep.model.head` (in place, so an
    optimizer built earlier keeps its parameters). Returns the epoch's history row."""
    callbacks = list(callbacks)
    started = time.perf_counter()
    cfg = prep.config.train
    workers = cfg.num_workers if cfg.num_workers is not None else default_workers(device)
    source = feature_source(prep, device, dtype, workers, callbacks, cancel)
    best = _train_head(prep, source, device, dtype, cancel)
    seconds = time.perf_counter() - started
    val = f"validation accuracy {best['val_acc']:.1%}" if best["val_acc"] is not None \
        else "no validation"
    emit(callbacks, Message("info", f"stage 1: linear probe, {PROBE_EPOCHS} epochs on cached "
                                    f"features (best: epoch {best['probe_epoch']}); {val}"))
    images = len(source.train_x) + len(source.val_x)
    return {"epoch": 1, "train_loss": best["train_loss"], "train_acc": best["train_acc"],
            "val_loss": best["val_loss"], "val_acc": best["val_acc"], "target_acc": None,
            "lr": 0.0, "images_per_s": images / max(seconds, 1e-9), "seconds": seconds,
            "stage": "probe"}


def _train_head(prep: Prepared, source: FeatureBatches, device: torch.device,
                dtype: torch.dtype | None, cancel: CancelToken | None) -> dict[str, Any]:
    """The linear-probe strategy's epochs on the cached features; the head ends with the
    weights of the epoch best on validation (the latest when there is no validation)."""
    cfg, model = prep.config.train, prep.model
    head = model.head
    params = list(head.parameters())  # as `param_groups`: no weight decay on 1-D tensors
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
         {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}], lr=PROBE_LR)
    scheduler = make_scheduler(optimizer, cfg.schedule, PROBE_EPOCHS * source.steps_per_epoch)
    stepper = Stepper(model, source.forward, optimizer,
                      torch.amp.GradScaler(enabled=False), scheduler, device, dtype,
                      cfg.label_smoothing)
    best: dict[str, Any] = {}
    head.train()
    for epoch in range(1, PROBE_EPOCHS + 1):
        torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # as the linear-probe run seeds it
        total, seen = torch.zeros(2, device=device), 0
        for x, y in source.train_epoch(epoch):
            check(cancel)
            total += stepper.train(x, y)
            seen += len(y)
        head.eval()
        val_loss, val_acc = evaluate_batches(stepper, source.val_batches(),
                                             lambda: check(cancel))
        head.train()
        if not best or better(val_acc, val_loss, best["val_acc"], best["val_loss"]):
            loss_sum, correct = total.tolist()
            best = {"probe_epoch": epoch, "val_acc": val_acc, "val_loss": val_loss,
                    "train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
                    "state": copy.deepcopy(head.state_dict())}
    head.load_state_dict(best.pop("state"))
    return best
