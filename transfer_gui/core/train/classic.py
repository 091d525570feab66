"""Feature transfer with a classic head: frozen-backbone embeddings into logistic regression or
k-nearest neighbours. No gradient flows through the backbone; the hyperparameter (the L2
strength, or k) is chosen on the validation split.

Both heads are saved as ordinary runs: logistic regression becomes the run's linear head (the
feature standardisation folded into its weights), k-NN a `KNNHead` that keeps the training
embeddings as buffers. Evaluation, prediction, Grad-CAM and export then work unchanged.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..events import CancelToken, EpochEnded, FitStarted, Message, check, emit
from ..models.heads import KNNHead

if TYPE_CHECKING:
    from .prepare import Prepared
    from .runrecord import FitResult

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
K_GRID = (1, 3, 5, 10, 20)


@dataclass
class ClassicFit:
    head: nn.Module
    choice: str  # the chosen hyperparameter, in words
    train_acc: float
    val_acc: float | None
    val_loss: float | None


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).float().mean()) if len(y) else 0.0


def _val_loss(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float(F.cross_entropy(logits, y)) if len(y) else float("nan")


def fit_logistic(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float, steps: int = 200,
    cancel: CancelToken | None = None,
) -> nn.Linear:
    """Multinomial logistic regression on standardised features, by full-batch L-BFGS; the
    standardisation is folded into the returned layer, so it takes raw features."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    weight = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        check(cancel)
        optimizer.zero_grad()
        loss = F.cross_entropy(z @ weight.t() + bias, y) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    layer = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        layer.weight.copy_(weight / std)
        layer.bias.copy_(bias - (weight * (mean / std)).sum(1))
    return layer


def fit_knn(x: torch.Tensor, y: torch.Tensor, num_classes: int, k: int) -> KNNHead:
    head = KNNHead(len(x), x.shape[1], num_classes, k)
    with torch.no_grad():
        head.bank.copy_(F.normalize(x.float(), dim=1))
        head.labels.copy_(y)
    return head


def choose_head(
    kind: str,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    num_classes: int,
    cancel: CancelToken | None = None,
) -> ClassicFit:
    """Fit over the hyperparameter grid and keep the best on validation (lowest loss breaks
    ties); without a validation split the middle of the grid is used."""
    (xt, yt), (xv, yv) = train, val
    grid: Sequence = L2_GRID if kind == "logistic" else [k for k in K_GRID if k <= len(xt)]
    if not len(xv):
        grid = [grid[len(grid) // 2]]
    best: ClassicFit | None = None
    for value in grid:
        check(cancel)
        head = (fit_logistic(xt, yt, num_classes, value, cancel=cancel) if kind == "logistic"
                else fit_knn(xt, yt, num_classes, value))
        with torch.no_grad():
            val_logits = head(xv) if len(xv) else None
            train_acc = _accuracy(head(xt), yt)
        fit = ClassicFit(
            head, f"L2 {value:g}" if kind == "logistic" else f"k = {value}", train_acc,
            _accuracy(val_logits, yv) if val_logits is not None else None,
            _val_loss(val_logits, yv) if val_logits is not None else None,
        )
        if best is None or _better(fit, best):
            best = fit
    assert best is not None
    return best


def _better(a: ClassicFit, b: ClassicFit) -> bool:
    if a.val_acc is None or b.val_acc is None:
        return False
    if not math.isclose(a.val_acc, b.val_acc):
        return a.val_acc > b.val_acc
    return (a.val_loss or 0.0) < (b.val_loss or 0.0)


def run_classic(
    kind: str,
    features: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    num_classes: int,
    device_label: str,
    total_params: int,
    callbacks: Iterable = (),
    cancel: CancelToken | None = None,
) -> tuple[ClassicFit, dict]:
    """Fit a classic head on cached features, reporting it as a one-epoch run."""
    callbacks = list(callbacks)
    xt, yt, xv, yv = (t.cpu() for t in features)
    started = time.perf_counter()
    emit(callbacks, FitStarted(epochs=1, steps_per_epoch=1, train_size=len(xt),
                               val_size=len(xv), device=device_label, trainable_params=0,
                               total_params=total_params, feature_cache=True))
    fit = choose_head(kind, (xt, yt), (xv, yv), num_classes, cancel)
    seconds = time.perf_counter() - started
    emit(callbacks, Message("info", f"{kind}: chose {fit.choice} on the validation split"))
    with torch.no_grad():
        train_loss = _val_loss(fit.head(xt), yt) if len(yt) else 0.0
    record = {"epoch": 1, "train_loss": train_loss, "train_acc": fit.train_acc,
              "val_loss": fit.val_loss, "val_acc": fit.val_acc, "lr": 0.0,
              "images_per_s": len(xt) / max(seconds, 1e-9), "seconds": seconds}
    emit(callbacks, EpochEnded(epoch=1, epochs=1, train_loss=train_loss,
                               train_acc=fit.train_acc, val_loss=fit.val_loss,
                               val_acc=fit.val_acc, lr=0.0, images_per_s=record["images_per_s"],
                               seconds=seconds, is_best=True))
    return fit, record


def fit_classic(prep: Prepared, out: Path, device: torch.device, callbacks: Iterable = (),
                cancel: CancelToken | None = None) -> FitResult:
    """Train a classic head (`prep.config.model.strategy` is "logistic" or "knn") into the
    run folder `out`, with the same files, events and endings as gradient training."""
    from ..events import Cancelled, FitEnded
    from ..interrupt import cancel_points
    from .recipe import amp_dtype, default_workers, device_label
    from .runrecord import RunRecord, TrainingFailed, failure_text
    from .sources import feature_source

    callbacks = list(callbacks)
    cfg = prep.config.train
    model = prep.model.to(device)
    record = RunRecord(out, model, device_label(device))
    record.write_start(prep)

    def finish(status: str, message: str = "", details: str = "") -> FitResult:
        result = record.finish(status, message, details)
        emit(callbacks, FitEnded(status, record.state.epoch, result.best_epoch,
                                 result.best_val_acc, result.best_val_loss, result.seconds,
                                 str(out), result.message))
        return result

    try:
        unreadable: dict[str, list[int]] = {}
        workers = cfg.num_workers if cfg.num_workers is not None else default_workers(device)
        with cancel_points(model, cancel):
            source = feature_source(prep, device, amp_dtype(device, cfg.mixed_precision),
                                    workers, callbacks, cancel, unreadable)
        for phase, indices in unreadable.items():
            samples = prep.train if phase == "train" else prep.val
            for i in indices:
                record.unreadable(samples[i].path, "could not be read; left out")
        total = sum(p.numel() for p in model.parameters())
        fit, row = run_classic(prep.config.model.strategy,
                               (source.train_x, source.train_y, source.val_x, source.val_y),
                               len(prep.classes), device_label(device), total, callbacks, cancel)
        model.head = fit.head.to(device)
        if isinstance(fit.head, KNNHead):
            record.meta["head"] = fit.head.meta()
        record.meta["classic"] = {"kind": prep.config.model.strategy, "choice": fit.choice}
        record.epoch_done(row, lambda: {"model": {}, "optimizer": {}, "scheduler": {}})
    except Cancelled:
        return finish("cancelled", "stopped by the user")
    except Exception as exc:
        result = finish("failed", failure_text(exc))
        raise TrainingFailed(f"training failed: {result.message}", result.saved) from exc
    return finish("completed")
