"""The learning-rate finder dialog: a short sweep with a rising rate in the background, the
loss-vs-rate curve drawn as its points arrive, and the suggested rate, accepted with one click.
Stop keeps the partial sweep and suggests a rate from it when its points are enough."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core import SWEEP_END, SWEEP_START, SWEEP_STEPS, Progress, RunConfig, SweepProgress, count
from ..widgets.notices.dialogs import show_error
from ..widgets.plots.lr_plot import LRPlot, rate_label
from ..worker import Job, start_job

PHASES = {"scan": "Checking images", "features": "Computing features",
          "lr-find": "Sweeping the learning rate"}


class LRFinderDialog(QDialog):
    """`start(config, scan)` runs the sweep; "Use this rate" emits `rate_chosen`."""

    rate_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Find a learning rate")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.task: Job | None = None
        self.suggestion: float | None = None
        self._config: RunConfig | None = None
        self._scan: Any = None
        self._stopping = False  # Stop was pressed: late progress must not overwrite that
        self._swept = (0, 0)  # steps done of the sweep's steps, as last heard
        self._build()
        self.resize(720, 500)

    def _build(self) -> None:
        rates = (rate_label(math.log10(SWEEP_START)), rate_label(math.log10(SWEEP_END)))
        intro = QLabel(f"A short training run on a fresh copy of the model while the rate "
                       f"rises from {rates[0]} to {rates[1]}; nothing is saved. The "
                       "suggestion lies two thirds down the loss's descent. Stop keeps the "
                       "points so far.")
        intro.setWordWrap(True)
        self.steps = QSpinBox()
        self.steps.setRange(10, 1000)
        self.steps.setValue(SWEEP_STEPS)
        self.steps.setSuffix(" steps")
        self.run_button = QPushButton("Run again")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Sweep"))
        controls.addWidget(self.steps)
        controls.addWidget(self.run_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.progress, 1)
        self.status = QLabel("")
        self.status.setObjectName("headline")
        self.status.setWordWrap(True)
        self.plot = LRPlot()
        self.use_button = QPushButton("Use this rate")
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self._on_use_clicked)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addLayout(buttons)

    # --- running ----------------------------------------------------------------------------

    def start(self, config: RunConfig, scan: Any) -> None:
        self._config, self._scan = config, scan
        self.stop()
        self._stopping = False
        self._swept = (0, 0)
        self.suggestion = None
        self.plot.begin(SWEEP_START, SWEEP_END)
        self.use_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.status.setText("Preparing…")
        task = start_job(partial(_find, config, self.steps.value(), scan), "lr-find", self)
        task.events.connect(partial(self._on_events, task))
        task.succeeded.connect(partial(self._on_succeeded, task))
        task.failed.connect(partial(self._on_failed, task))
        task.done.connect(partial(self._on_done, task))
        self.task = task

    @Slot()
    def stop(self) -> None:
        if self.running and self.task is not None and not self._stopping:
            self._stopping = True
            self.task.cancel()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping…")

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    @Slot()
    def _on_run_clicked(self) -> None:
        if self._config is not None:
            self.start(self._config, self._scan)

    # --- results ----------------------------------------------------------------------------

    def _on_events(self, task: Job, events: list) -> None:
        if task is not self.task or self._stopping:  # after Stop, the result says the rest
            return
        done = [e for e in events if isinstance(e, Progress) and e.total]
        if done:
            self._swept = (done[-1].done, done[-1].total)
        points = [e for e in events if isinstance(e, SweepProgress)]
        if points:
            self.plot.add_points([e.lr for e in points], [e.loss for e in points])
        progress = [e for e in events if isinstance(e, Progress) and e.total]
        if progress:
            last = progress[-1]
            self.progress.setRange(0, last.total)
            self.progress.setValue(last.done)
            phase = PHASES.get(last.phase, last.phase.capitalize())
            self.status.setText(f"{phase}: {last.done} / {last.total}")

    def _on_succeeded(self, task: Job, result: Any) -> None:
        if task is not self.task or result is None:  # None: stopped
            return
        self.suggestion = result.suggestion
        self.plot.show_result(result.lrs, result.losses, result.smoothed, result.suggestion)
        self.status.setText(_outcome(result))
        self.use_button.setEnabled(result.suggestion is not None)

    def _on_failed(self, task: Job, message: str, details: str) -> None:
        if task is self.task:
            self.status.setText("The sweep failed.")
            show_error(self, "The learning-rate finder failed", message, details)

    def _on_done(self, task: Job) -> None:
        if task is self.task:
            if self._stopping:  # the bar says how far the sweep went: 14 of 40, not 100 %
                self.progress.setRange(0, max(self._swept[1], 1))
                self.progress.setValue(self._swept[0])
            else:
                self.progress.setRange(0, 1)
                self.progress.setValue(1 if self.suggestion is not None else 0)
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)
            if self.status.text() == "Stopping…":  # stopped with no result to show
                self.status.setText("Stopped.")

    @Slot()
    def _on_use_clicked(self) -> None:
        if self.suggestion is not None:
            self.rate_chosen.emit(self.suggestion)
            self.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    def reject(self) -> None:  # Escape
        self.stop()
        super().reject()


def _outcome(result: Any) -> str:
    """What a finished or stopped sweep came to, in a sentence or two."""
    steps = count(result.steps, "step")
    if result.suggestion is None:
        found = f"No suggestion: {result.reason}."
    else:
        found = f"Suggested learning rate: {result.suggestion:.2e} ({result.reason}"
        found += ")." if result.stopped else f", {steps})."
    return f"Stopped after {steps}. {found}" if result.stopped else found


def _find(config: RunConfig, steps: int, scan: Any, callbacks: list, cancel: Any) -> Any:
    from ...core import lr_find

    return lr_find(config, callbacks, cancel, steps=steps, scan=scan)
