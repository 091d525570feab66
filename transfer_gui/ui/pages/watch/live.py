"""A run's events drawn as they arrive: the status line, the progress bar, the curves and the
log. The Train page feeds it the events of the run it started; the Watch view feeds it the
events a run folder's `events.jsonl` gains. The same events give the same display."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPlainTextEdit, QProgressBar

from ....core import (
    BatchEnded,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    Progress,
    SmoothedLeft,
    TimeLeft,
)
from ...widgets.notices.status_line import StatusLine
from ...widgets.plots.metric_plot import TrainingPlots
from .. import train_texts as texts


class LiveRun:
    """Draws events into the given widgets. `replay`: called with nothing when a resumed run
    starts, to draw the epochs before its stop (None: they are in the events already)."""

    def __init__(self, plots: TrainingPlots, progress: QProgressBar, status: StatusLine,
                 log: QPlainTextEdit, replay: Callable[[], None] | None = None) -> None:
        self.plots, self.progress, self.status, self.log = plots, progress, status, log
        self.replay = replay
        self.reset()

    def reset(self) -> None:
        """A new run: nothing drawn, nothing counted."""
        self.plots.clear()
        self.steps_per_epoch = 1
        self.epochs = 1
        self.start_step = 0
        self.resumed_after = 0
        self.clock = TimeLeft()  # the time left, from the events as they arrive
        self.shown_left = SmoothedLeft()  # what the status line says: smoothed, and how sure
        self._now = 0.0  # when the events being fed arrived
        self.ended: FitEnded | None = None  # how the run ended (None: running, or not started)

    def feed(self, events: list, now: float | None = None) -> None:
        """Draw `events` (oldest first); the steps among them in one go."""
        steps: list[BatchEnded] = []
        now = time.monotonic() if now is None else now
        self._now = now
        for event in events:
            self.clock.see(event, now)
            if isinstance(event, BatchEnded):
                steps.append(event)
                continue
            if steps:
                self._add_steps(steps)
                steps = []
            self._on_event(event)
        if steps:
            self._add_steps(steps)
        self.plots.redraw()

    def _on_event(self, event: object) -> None:
        if isinstance(event, FitStarted):
            self._on_fit_started(event)
        elif isinstance(event, EpochEnded):
            self._on_epoch_ended(event)
        elif isinstance(event, Progress):
            self._on_progress(event)
        elif isinstance(event, Message):
            self.log.appendPlainText(texts.message_line(event))
        elif isinstance(event, FitEnded):
            self._on_fit_ended(event)

    def _on_fit_started(self, event: FitStarted) -> None:
        self.ended = None
        self.steps_per_epoch = max(event.steps_per_epoch, 1)
        self.plots.set_steps_per_epoch(self.steps_per_epoch)
        self.epochs = event.epochs
        self.start_step = event.start_epoch * self.steps_per_epoch
        self.resumed_after = event.start_epoch
        self.progress.setRange(0, event.epochs * self.steps_per_epoch)
        self.progress.setValue(self.start_step)
        if event.start_epoch and self.replay is not None:
            self.replay()  # a resumed run's plot starts with the epochs before the stop
        self.log.appendPlainText(texts.started_line(event))

    def _add_steps(self, steps: list[BatchEnded]) -> None:
        per = self.steps_per_epoch
        xs = [s.epoch - 1 + s.batch / per for s in steps]
        self.plots.add_steps(xs, [s.loss for s in steps], [s.lr for s in steps])
        last = steps[-1]
        done = (last.epoch - 1) * per + last.batch
        self.progress.setValue(done)
        shown = self.shown_left.update(self.clock.remaining(), self._now, last.epoch) or 0.0
        self.status.setText(texts.step_status(last, self.epochs, per, shown,
                                              self.shown_left.unsure))

    def _on_epoch_ended(self, event: EpochEnded) -> None:
        self.plots.add_epoch(event.epoch, event.train_acc, event.val_loss, event.val_acc,
                             event.target_acc, event.task_acc)
        self.log.appendPlainText(texts.epoch_line(event))

    def _on_progress(self, event: Progress) -> None:
        if event.total:
            text = {"scan": "Checking images"}.get(event.phase, event.phase.capitalize())
            self.status.setText(f"{text}: {event.done} / {event.total}")

    def _on_fit_ended(self, event: FitEnded) -> None:
        self.ended = event
        if event.target_acc is not None:  # after adaptation: the curve ends on the adapted model
            self.plots.add_target(event.epochs_run, event.target_acc)
        self.status.setText(texts.ended_headline(event, self.resumed_after))
        self.log.appendPlainText(texts.ended_line(event, self.resumed_after))


class PastRun:
    """A finished run's `events.jsonl` fed into a `LiveRun`, a chunk per turn of the event loop
    (a reopened project shows its last run's curves, progress and log as they were)."""

    def __init__(self, live: LiveRun, run_dir: str) -> None:
        from ....core import EventReader

        self.live = live
        self.reader = EventReader(run_dir)
        self.stopped = False
        live.reset()
        live.log.clear()
        QTimer.singleShot(0, self._read)

    def _read(self) -> None:
        if self.stopped:
            return
        _, events = self.reader.read()
        if events:
            self.live.feed(events)
        if self.reader.behind:
            QTimer.singleShot(0, self._read)

    def stop(self) -> None:
        self.stopped = True
