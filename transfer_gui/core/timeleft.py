"""How long a run has left, from its events and the times they arrived.

A run's epochs do not all cost the same: the probe of a probe-first fine-tune is one epoch on
cached features (seconds), and the fine-tuning epochs after it run the whole network (minutes);
a two-stage run's head-only epochs are cheaper than its later ones. So the time left is priced
from the measured step time of the current stage (the steps of the epoch under way; until
it has taken a step, the last epoch that took steps) and the measured validation time per
epoch, never from the run's average since it began.

`TimeLeft` is fed the events in order with the time each was seen (any clock in seconds),
and answers `remaining()`. Pure Python: the window and the terminal share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .events import BatchEnded, EpochEnded, FitStarted

VALIDATION_SHARE = 1 / 3  # a validation step (forward only) against a training step, a guess
# that holds only until the first validation has been timed


@dataclass
class _Epoch:
    number: int
    started: float  # when the epoch's first step began (the previous epoch ended)
    steps: int = 0  # steps seen so far
    last_step: float | None = None  # when the latest step was seen


class TimeLeft:
    """Seconds left in a run, from its events: `see(event, now)` then `remaining()`."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.epochs = 0
        self.steps_per_epoch = 1
        self.val_share = 0.0  # validation images per training image
        self.epoch: _Epoch | None = None
        self.step_seconds: float | None = None  # of the last epoch that took steps
        self.val_seconds: float | None = None  # the last validation measured
        self.done_epochs = 0

    def see(self, event: object, now: float) -> None:
        if isinstance(event, FitStarted):
            self.started(event, now)
        elif isinstance(event, BatchEnded):
            self.step(event, now)
        elif isinstance(event, EpochEnded):
            self.epoch_ended(event, now)

    def started(self, event: FitStarted, now: float) -> None:
        self._reset()
        self.epochs = event.epochs
        self.steps_per_epoch = max(event.steps_per_epoch, 1)
        self.val_share = event.val_size / max(event.train_size, 1)
        self.done_epochs = event.start_epoch
        self.epoch = _Epoch(event.start_epoch + 1, now)

    def step(self, event: BatchEnded, now: float) -> None:
        self.steps_per_epoch = max(event.steps_per_epoch, 1)
        if self.epoch is None or self.epoch.number != event.epoch:
            before = self.epoch  # its end unseen: this epoch began at its last step
            began = now if before is None else before.last_step or before.started
            self.epoch = _Epoch(event.epoch, began)
        self.epoch.steps = event.batch
        self.epoch.last_step = now

    def epoch_ended(self, event: EpochEnded, now: float) -> None:
        epoch = self.epoch
        if epoch is not None and epoch.number == event.epoch and epoch.last_step is not None:
            self.step_seconds = (epoch.last_step - epoch.started) / max(epoch.steps, 1)
            if epoch.steps >= self.steps_per_epoch:  # the time after the last step validated
                self.val_seconds = now - epoch.last_step
        self.epochs = event.epochs  # automatic epochs may change the count
        self.done_epochs = event.epoch
        self.epoch = _Epoch(event.epoch + 1, now)

    def current_step_seconds(self) -> float | None:
        """The step time of the current stage: the epoch under way's, once it took a step."""
        epoch = self.epoch
        if epoch is not None and epoch.steps and epoch.last_step is not None:
            return (epoch.last_step - epoch.started) / epoch.steps
        return self.step_seconds

    def validation_seconds(self) -> float:
        if self.val_seconds is not None:
            return self.val_seconds
        step = self.current_step_seconds() or 0.0
        return step * self.steps_per_epoch * self.val_share * VALIDATION_SHARE

    def remaining(self) -> float | None:
        """Seconds left, or None before any step has been timed."""
        step = self.current_step_seconds()
        if step is None:
            return None
        per = self.steps_per_epoch
        done = self.epoch.steps if self.epoch is not None else 0
        epochs_left = max(self.epochs - self.done_epochs, 0)
        if epochs_left == 0:
            return 0.0
        steps_left = max(per - done, 0) + (epochs_left - 1) * per
        return steps_left * step + epochs_left * self.validation_seconds()


SMOOTHING_SECONDS = 30.0  # how fast the time shown follows a new estimate
UNSURE_SHARE = 0.25  # estimates further than this from the time shown: say it is unsure


class SmoothedLeft:
    """The time left as a person reads it: it counts down with the clock and moves toward
    each fresh estimate over about `SMOOTHING_SECONDS`, so that a burst of load on a shared
    machine does not swing it (8:44, 20:53, 3:52 within two minutes); `unsure` while the
    fresh estimates disagree with it by more than a quarter. A new epoch starts afresh: its
    stage may cost another time per step (a probe, then the whole network)."""

    def __init__(self) -> None:
        self.shown: float | None = None
        self.at = 0.0
        self.epoch = -1
        self.unsure = False

    def update(self, fresh: float | None, now: float, epoch: int = 0) -> float | None:
        if fresh is None:
            return self.shown
        if self.shown is None or epoch != self.epoch:
            self.shown, self.at, self.epoch, self.unsure = fresh, now, epoch, False
            return fresh
        elapsed = max(now - self.at, 0.0)
        self.at = now
        counted = max(self.shown - elapsed, 0.0)
        weight = 1.0 - math.exp(-elapsed / SMOOTHING_SECONDS)
        self.shown = counted + (fresh - counted) * weight
        self.unsure = abs(fresh - self.shown) > UNSURE_SHARE * max(self.shown, 1.0)
        return self.shown
