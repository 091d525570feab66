"""Feature transfer with a classic head: frozen-backbone embeddings into logistic regression or
k-nearest neighbours. No gradient flows through the backbone; the hyperparameter (the L2
strength, or k) is chosen on the validation split.

Both heads are saved as ordinary runs: logistic regression becomes the run's linear head (the
feature standardisation folded into its weights), k-NN a `KNNHead` that keeps the training
embeddings as buffers. Evaluation, prediction, Grad-CAM and export then work unchanged. A classic
run goes through the training loop like any other: `ClassicHead` is a hook that makes its one
epoch the fit of the head, and the run folder and the ending are the usual ones.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.balance import class_counts, class_weights
from ..data.batches import FeatureBatches
from ..events import FitStarted, Work
from ..models.heads import KNNHead
from ..models.layers import count_params
from .hooks import FitState, Hook
from .recipe import device_label

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
K_GRID = (1, 3, 5, 10, 20)


@dataclass
class ClassicFit:
    head: nn.Linear | KNNHead
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
    task: Work | None = None, weights: torch.Tensor | None = None,
) -> nn.Linear:
    """Multinomial logistic regression on standardised features, by full-batch L-BFGS; the
    standardisation is folded into the returned layer, so it takes raw features. `weights`:
    each class's weight in the loss (scikit-learn's class_weight="balanced"), or None."""
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mean) / std
    weight = torch.zeros(num_classes, x.shape[1], requires_grad=True)
    bias = torch.zeros(num_classes, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=steps,
                                  history_size=20, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        if task is not None:
            task.check()
        optimizer.zero_grad()
        loss = F.cross_entropy(z @ weight.t() + bias, y, weights) + 0.5 * l2 * weight.pow(2).sum()
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
    task: Work | None = None,
    weights: torch.Tensor | None = None,
) -> ClassicFit:
    """Fit over the hyperparameter grid and keep the best on validation (lowest loss breaks
    ties); without a validation split the middle of the grid is used. `weights`: the logistic
    loss's class weights (k-NN has none)."""
    (xt, yt), (xv, yv) = train, val
    grid: Sequence = L2_GRID if kind == "logistic" else [k for k in K_GRID if k <= len(xt)]
    if not len(xv):
        grid = [grid[len(grid) // 2]]
    best: ClassicFit | None = None
    for value in grid:
        if task is not None:
            task.check()
        head = (fit_logistic(xt, yt, num_classes, value, task=task, weights=weights)
                if kind == "logistic"
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


class ClassicHead(Hook):
    """A classic head's run: its one epoch fits the head on the cached features (the loop's
    feature source) and puts it in the model."""

    name = "classic"
    writes = frozenset({"started", "row", "model", "notes"})
    before = ("best", "record")

    def on_fit_start(self, fit: FitState) -> None:
        source = _features(fit)
        fit.started = FitStarted(
            epochs=1, steps_per_epoch=1, train_size=len(source.train_x),
            val_size=len(source.val_x), device=device_label(fit.device), trainable_params=0,
            total_params=count_params(fit.model)[1], feature_cache=True)

    def on_epoch_start(self, fit: FitState) -> None:
        source, kind = _features(fit), fit.prep.config.model.strategy
        xt, yt, xv, yv = (t.cpu() for t in (source.train_x, source.train_y, source.val_x,
                                            source.val_y))
        started = time.perf_counter()
        # a full-batch fit draws no batches: the balanced sampler's expectation is the weighting
        balanced = fit.prep.config.train.balance in ("weighted", "sampler")
        weights = class_weights(class_counts(yt.tolist(), len(fit.prep.classes)))
        chosen = choose_head(kind, (xt, yt), (xv, yv), len(fit.prep.classes), fit.task,
                             weights if balanced else None)
        seconds = time.perf_counter() - started
        fit.task.message("info", f"{kind}: chose {chosen.choice} on the validation split")
        with torch.no_grad():
            train_loss = _val_loss(chosen.head(xt), yt) if len(yt) else 0.0
        fit.model.head = chosen.head.to(fit.device)
        if isinstance(chosen.head, KNNHead):
            fit.notes["head"] = chosen.head.meta()
        fit.notes["classic"] = {"kind": kind, "choice": chosen.choice}
        fit.row = {"epoch": 1, "train_loss": train_loss, "train_acc": chosen.train_acc,
                   "val_loss": chosen.val_loss, "val_acc": chosen.val_acc, "lr": 0.0,
                   "images_per_s": len(xt) / max(seconds, 1e-9), "seconds": seconds}


def _features(fit: FitState) -> FeatureBatches:
    """A classic head fits on the cached features, all of them at once."""
    assert isinstance(fit.source, FeatureBatches), "a classic head fits on cached features"
    return fit.source
