"""File > Watch run…: a window that follows a run folder, whoever writes it (this window, the
command line, torchrun, a cluster job on a shared disk).

The run's writer appends every event to the folder's `events.jsonl`; the view polls the file's
size (`POLL_MS`) and draws each line completed since (`core.EventReader`: a line not yet ended
waits), through the same `LiveRun` the Train page draws its own run with, so the same events
give the same curves, progress and log. A long log is read a chunk per turn of the event loop,
so the window answers while it catches up. A file replaced (a resumed run trims it) is read
again from its start. Once the run has ended, it is an ordinary run of the project: the current
run of Evaluate, Predict and Compare. A finished run without the file (from an earlier
release) shows the epochs and steps its record holds. A run whose writer is gone without
ending it (killed: `run.json` still says running, but nothing holds the folder's lock) is
said to be interrupted when a poll brings nothing new, its time left dropped.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ....core import EVENTS, INTERRUPTED, EventReader, RunError, TimeLeft, run_info
from ...state import AppState
from ...steps import Step
from ...widgets.notices.status_line import StatusLine
from ...widgets.plots.metric_plot import TrainingPlots
from .live import LiveRun

POLL_MS = 500
STEPS = (Step.EVALUATE, Step.PREDICT, Step.COMPARE)  # the main window's steps it offers


class WatchView(QWidget):
    """Follows the run folder `folder` until closed."""

    run_ended = Signal(str, str)  # run folder, status
    step_requested = Signal(int)  # a main-window step to show this run in

    def __init__(self, state: AppState, folder: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.state, self.folder = state, os.path.normpath(folder)
        self.reader = EventReader(self.folder)
        self._said_ended: str | None = None
        self._recorded = False  # a run without events.jsonl: its record drawn
        self._build()
        self.live = LiveRun(self.plots, self.progress, self.status, self.log)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self.setWindowTitle(f"Watching {os.path.basename(self.folder)} — transfer_gui")
        self.resize(1000, 700)
        self.poll()
        self.timer.start()

    def _build(self) -> None:
        self.where = QLabel()
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = StatusLine(f"Waiting for {EVENTS} in this folder (written by a run "
                                 "from this release on, as it trains)…")
        self.status.setObjectName("trainStatus")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.plots = TrainingPlots()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("The run's log")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.plots)
        split.addWidget(self.log)
        split.setSizes([430, 150])
        buttons = QHBoxLayout()
        self.step_buttons: list[QPushButton] = []
        for step in STEPS:
            button = QPushButton(step.title)
            button.setEnabled(False)
            button.setToolTip(f"Show this run on the {step.title} page (once it has ended)")
            button.clicked.connect(partial(self._show_step, step))
            buttons.addWidget(button)
            self.step_buttons.append(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        for widget in (self.where, self.status, self.progress):
            layout.addWidget(widget)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)

    def _show_step(self, step: int, *_: object) -> None:
        self.step_requested.emit(step)

    @Slot()
    def poll(self) -> None:
        """Draw what the file gained since the last poll (a chunk; the rest next turn)."""
        restarted, events = self.reader.read()
        if restarted:
            self.live.reset()
            self.log.clear()
        if events:
            self.live.feed(events)
        if self.reader.behind:
            QTimer.singleShot(0, self.poll)  # catching up: the window answers in between
            return
        if not (Path(self.folder) / EVENTS).exists():
            self._show_record()
            return
        self._update_ended(quiet=not events and not restarted)

    def _show_record(self) -> None:
        """A finished run folder without events.jsonl: the epochs and steps of its record."""
        try:
            status = run_info(self.folder).status
        except RunError:
            return
        if self._recorded or status == "running":
            return
        self._recorded = True
        self.plots.replay(self.folder)
        self.plots.redraw()
        self.status.setText(f"This run has no {EVENTS} (it was trained by an earlier "
                            "release): the epochs its record holds are shown.")
        self._ended(status)

    def _update_ended(self, quiet: bool = False) -> None:
        ended = self.live.ended
        status = ended.status if ended is not None else None
        if status is None and quiet and self._status() == INTERRUPTED:
            status = INTERRUPTED  # nothing new, and nothing writes the folder any more
        state = f"ended ({status})" if status else "following it as it is written"
        self.where.setText(f"<b>{self.folder}</b> — {state}")
        for button in self.step_buttons:
            button.setEnabled(status is not None)
        if status is None:
            self._said_ended = None  # running (again: a resumed run)
        if status is None or status == self._said_ended:
            return
        try:
            run_info(self.folder)  # a run that ended before its folder held a run: nothing
        except RunError:
            return
        self._ended(status)

    def _status(self) -> str:
        try:
            return run_info(self.folder).status
        except RunError:
            return ""

    def _ended(self, status: str) -> None:
        if status == INTERRUPTED:
            self._interrupted()
        self._said_ended = status
        self.where.setText(f"<b>{self.folder}</b> — ended ({status})")
        for button in self.step_buttons:
            button.setEnabled(True)
        self.state.run_trained(self.folder)
        self.run_ended.emit(self.folder, status)

    def _interrupted(self) -> None:
        """The writer died mid-run: no time left to count down; how to continue instead."""
        self.live.clock = TimeLeft()
        epochs = run_info(self.folder).epochs_done
        self.status.setText(
            f"The run stopped without finishing after {epochs} of {self.live.epochs} epochs: "
            "its process ended (killed, or its computer stopped). Resume it on the Train "
            f"page, or with: transfer-gui train --resume {self.folder}")
        self.log.appendPlainText("run interrupted: its process is gone")

    def closeEvent(self, event: object) -> None:
        self.timer.stop()
        super().closeEvent(event)  # type: ignore[arg-type]
