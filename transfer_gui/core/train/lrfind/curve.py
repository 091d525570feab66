"""The learning-rate finder's curve: the sweep's range, smoothing the loss, and the suggested
rate, in plain numbers (no torch: the window draws the curve live with the same smoothing;
numpy only once a curve is computed, so the command line's options stay quick to build).

A sweep of `SWEEP_STEPS` steps from `SWEEP_START` to `SWEEP_END` gives 8 points a decade:
enough to place the loss's descent within a factor of about 1.3, and short enough for a CPU
(tests/bench/bench_lr_finder.py). The loss is smoothed by a centred moving average: an
exponential average lags by several steps, which on a short sweep moves the whole curve
towards higher rates.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SWEEP_START = 1e-5
SWEEP_END = 1.0
SWEEP_STEPS = 40
MIN_POINTS = 10  # fewer points than this suggest nothing
MIN_DESCENT = 0.05  # a stopped sweep suggests a rate once its loss fell by 5 % of its start


@dataclass
class LRFindResult:
    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float | None
    reason: str
    stopped: bool = False  # stopped before the sweep's end: the curve is partial

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def steps(self) -> int:
        return len(self.losses)


def smooth_losses(losses: list[float]) -> list[float]:
    """A centred moving average over about a twentieth of the points (at least 5); near the
    ends the window shrinks to the points there are."""
    import numpy as np

    n = len(losses)
    if not n:
        return []
    half = max(2, round(n / 40))
    sums = np.concatenate(([0.0], np.cumsum(np.asarray(losses, dtype=float))))
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    return [float(v) for v in (sums[hi] - sums[lo]) / (hi - lo)]


def suggest(lrs: list[float], losses: list[float],
            complete: bool = True) -> tuple[float | None, str]:
    """The rate two thirds of the way (in log-rate) through the smoothed loss's descent: from
    the last step still near the starting loss to the first that comes near the minimum
    ("near": within a tenth of the fall). Where the loss falls over a wide range of rates, the
    steepest point of that range is a matter of noise; the range's ends are not. A partial
    sweep (`complete` False) suggests a rate only once its loss has fallen."""
    import numpy as np

    n = min(len(lrs), len(losses))
    if n < MIN_POINTS:
        return None, f"too few points to suggest a rate ({n}; at least {MIN_POINTS} needed)"
    values = np.asarray(smooth_losses(losses[:n]))
    low = int(np.argmin(values))
    top = float(values[: low + 1].max())
    fall = top - float(values[low])
    if not complete and fall < MIN_DESCENT * abs(top):
        return None, "the loss had not started to fall yet: run the sweep further"
    if low <= max(1, n // 10) + 1:
        return lrs[low] / 10, "the loss was lowest at the start: one tenth of that rate"
    high = np.nonzero(values[: low + 1] >= top - 0.1 * fall)[0]
    begin = int(high[-1])
    end = begin + int(np.argmax(values[begin : low + 1] <= values[low] + 0.1 * fall))
    where = "two thirds down the loss's descent" + ("" if complete else " so far")
    return lrs[(begin + 2 * end) // 3], where


def curve_result(lrs: list[float], losses: list[float], stopped: bool) -> LRFindResult:
    """The finder's result from its points (`lrs` may hold one rate more: a step cut short)."""
    lrs = lrs[: len(losses)]
    suggestion, reason = suggest(lrs, losses, complete=not stopped)
    return LRFindResult(list(lrs), list(losses), smooth_losses(losses), suggestion, reason,
                        stopped)
