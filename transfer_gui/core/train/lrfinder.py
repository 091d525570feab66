"""The learning-rate finder: train briefly while raising the rate exponentially, watch the loss,
and suggest the rate where it falls fastest (the usual range test).

Discriminative rates are kept: every optimizer group moves by the same factor, so the
suggestion is the head's rate, as the `lr` setting means.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..events import CancelToken, Progress, check, emit

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


def _batches(source: Any) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    epoch = 1
    while True:
        yield from source.train_epoch(epoch)
        epoch += 1


def lr_find(
    config: RunConfig,
    callbacks: Iterable = (),
    cancel: CancelToken | None = None,
    start: float = 1e-6,
    end: float = 1.0,
    steps: int = 100,
    scan: Any = None,
) -> LRFindResult:
    """Run the range test on a fresh model built from `config` (nothing is saved). The batches
    are the ones training would use: cached features for a frozen body, images otherwise."""
    from ..interrupt import cancel_points
    from ..models.layers import body_frozen, train_mode
    from .prepare import prepare
    from .recipe import (
        amp_dtype,
        autocast,
        channels_last_for,
        lr_ratio_for,
        make_optimizer,
        pick_device,
    )
    from .sources import build_source

    callbacks = list(callbacks)
    prep = prepare(config, callbacks, cancel, scan=scan)
    cfg = prep.config.train
    device = pick_device(cfg.device)
    model = prep.model.to(device)
    dtype = amp_dtype(device, cfg.mixed_precision)
    use_features = cfg.cache_features and cfg.augment == "none" and body_frozen(model)
    ratio = lr_ratio_for(prep.config.model.strategy)
    optimizer = make_optimizer(model, prep.groups, cfg, ratio)
    relative = [g["lr"] / (cfg.lr or 1.0) for g in optimizer.param_groups]
    factor = (end / start) ** (1 / max(steps - 1, 1))
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    avg = weight = 0.0
    with cancel_points(model, cancel):
        source = build_source(prep, device, dtype, channels_last_for(device), use_features,
                              callbacks, cancel)
        train_mode(model)
        for step, (x, y) in enumerate(_batches(source)):
            check(cancel)
            if step >= steps:
                break
            lr = start * factor**step
            for group, rel in zip(optimizer.param_groups, relative, strict=True):
                group["lr"] = lr * rel
            keep = y >= 0  # files that failed to load carry negative labels
            with autocast(device, dtype):
                logits = source.forward(model, x[keep])
            loss = F.cross_entropy(logits.float(), y[keep])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                break
            avg = SMOOTHING * avg + (1 - SMOOTHING) * value
            weight = SMOOTHING * weight + 1 - SMOOTHING
            lrs.append(lr)
            losses.append(value)
            smoothed.append(avg / weight)
            emit(callbacks, Progress("lr-find", step + 1, steps))
            if len(smoothed) > 5 and smoothed[-1] > DIVERGED * min(smoothed):
                break
    suggestion, reason = suggest(lrs, smoothed)
    return LRFindResult(lrs, losses, smoothed, suggestion, reason)
