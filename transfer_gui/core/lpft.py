"""Stage 1 of LP-FT fine-tuning (Kumar et al., 2022): a linear probe fitted to convergence.

A new head trained for a few epochs while the layers below it already move sends large, random
gradients into the pretrained features and distorts them before it has learned anything. So a
probe-first run spends its first epoch on the linear probe itself: one forward pass of the
frozen body over the training and validation images (through the feature cache), then
L-BFGS logistic regression on those features (the L2 strength chosen on the validation split).
Its weights become the network's head, and fine-tuning starts from there. The probe's
validation accuracy is the run's first epoch, so a fine-tune that never beats it keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .classic import choose_head
from .events import CancelToken, Message, emit
from .recipe import default_workers
from .sources import feature_source

if TYPE_CHECKING:
    from .prepare import Prepared

KEPT_PROBE = "fine-tuning did not improve on the frozen probe: kept the probe"


def fit_probe(prep: Prepared, device: torch.device, dtype: torch.dtype | None,
              callbacks: Iterable = (), cancel: CancelToken | None = None) -> dict[str, Any]:
    """Fit the probe on the body's features and copy it into `prep.model.head` (in place, so
    an optimizer built earlier keeps its parameters). Returns the epoch's history row."""
    callbacks = list(callbacks)
    started = time.perf_counter()
    cfg = prep.config.train
    workers = cfg.num_workers if cfg.num_workers is not None else default_workers(device)
    source = feature_source(prep, device, dtype, workers, callbacks, cancel)
    xt, yt, xv, yv = (t.cpu() for t in (source.train_x, source.train_y,
                                        source.val_x, source.val_y))
    fit = choose_head("logistic", (xt, yt), (xv, yv), len(prep.classes), cancel)
    head = prep.model.head
    with torch.no_grad():
        head.weight.copy_(fit.head.weight.to(head.weight))
        head.bias.copy_(fit.head.bias.to(head.bias))
        train_loss = float(F.cross_entropy(fit.head(xt), yt)) if len(yt) else 0.0
    seconds = time.perf_counter() - started
    val = f"validation accuracy {fit.val_acc:.1%}" if fit.val_acc is not None else "no validation"
    emit(callbacks, Message("info", f"stage 1: linear probe fitted to convergence "
                                    f"({fit.choice}); {val}"))
    return {"epoch": 1, "train_loss": train_loss, "train_acc": fit.train_acc,
            "val_loss": fit.val_loss, "val_acc": fit.val_acc, "target_acc": None, "lr": 0.0,
            "images_per_s": (len(xt) + len(xv)) / max(seconds, 1e-9), "seconds": seconds,
            "stage": "probe"}
