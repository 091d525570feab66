"""Running "Compare strategies" in the background: the engine's `compare_strategies`, with its
events turned into overall progress and a signal as each strategy's run ends."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from ...core import (
    STRATEGY_NAMES,
    BatchEnded,
    EpochEnded,
    FitEnded,
    FitStarted,
    Progress,
    RunConfig,
)
from ..worker import Job, start_job


class StrategyComparison(QObject):
    progressed = Signal(float, str)  # share of the whole comparison done, what is happening
    run_finished = Signal(str)  # a strategy's run folder, as soon as its training ends
    finished = Signal(list)  # the summary rows of the runs that were trained
    failed = Signal(str, str)  # message, details
    done = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Job | None = None
        self.strategies: list[str] = []
        self._index = 0  # the strategy being trained
        self._epochs = 1
        self._steps = 1

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def start(self, config: RunConfig, strategies: list[str], out_root: Path,
              scan: Any) -> None:
        self.strategies = list(strategies)
        self._index = 0
        fn = partial(_compare, config, self.strategies, str(out_root), scan)
        task = start_job(fn, "compare", self)
        task.events.connect(self._on_events)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self.failed)
        task.done.connect(self.done)
        self.task = task

    def stop(self) -> None:
        if self.running and self.task is not None:
            self.task.cancel()

    # --- events -----------------------------------------------------------------------------

    @Slot(list)
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, FitStarted):
                self._epochs, self._steps = event.epochs, max(event.steps_per_epoch, 1)
                self._report(0.0, "starting")
            elif isinstance(event, BatchEnded):
                done = (event.epoch - 1) * self._steps + event.batch
                self._report(done / (self._epochs * self._steps),
                             f"epoch {event.epoch}/{self._epochs} · step {event.batch}/"
                             f"{self._steps}")
            elif isinstance(event, EpochEnded):
                self._report(event.epoch / self._epochs, f"epoch {event.epoch} done")
            elif isinstance(event, FitEnded):
                self._report(1.0, "evaluating")
                self.run_finished.emit(event.run_dir)
                self._index += 1
            elif isinstance(event, Progress) and event.total:
                self._report(0.0, f"{event.phase} {event.done}/{event.total}")

    def _report(self, fraction: float, text: str) -> None:
        n = max(len(self.strategies), 1)
        index = min(self._index, n - 1)
        key = self.strategies[index] if self.strategies else ""
        name = STRATEGY_NAMES.get(key, key)
        self.progressed.emit((index + min(fraction, 1.0)) / n,
                             f"{name} ({index + 1} of {n}): {text}")

    @Slot(object)
    def _on_succeeded(self, rows: object) -> None:
        self.finished.emit(list(rows) if isinstance(rows, list) else [])


def _compare(config: RunConfig, strategies: list[str], out_root: str, scan: Any,
             callbacks: list, cancel: Any) -> list[dict]:
    from ...core import Cancelled, compare_strategies

    try:
        return compare_strategies(config, strategies, out_root, callbacks, cancel, scan=scan)
    except Cancelled:
        return []
