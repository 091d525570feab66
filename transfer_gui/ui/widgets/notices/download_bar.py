"""Fetching a model's weights: a button, then a progress bar with size and speed and a Cancel
button; the files go to torch's or Hugging Face's own cache (the engine decides which)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from ....core import Progress
from ...engine_loader import fetch
from ...worker import Job, start_job


class DownloadBar(QWidget):
    fetched = Signal(str)  # the model id whose weights are now on this computer
    refused = Signal(str, str)  # model id, why (e.g. no network)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_id = ""
        self.task: Job | None = None
        self.button = QPushButton("Download weights")
        self.button.setToolTip("Fetch the pretrained weights now (kept in torch's or Hugging "
                               "Face's cache, shared with other tools)")
        self.button.clicked.connect(self.start)
        self.bar = QProgressBar()
        self.bar.setVisible(False)
        self.label = QLabel("")
        self.label.setObjectName("downloadText")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop the download (what was fetched is kept for a next try)")
        self.cancel.setVisible(False)
        self.cancel.clicked.connect(self._on_cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.button)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel)
        layout.addWidget(self.label, 1)

    def show_for(self, model_id: str, weights: str) -> None:
        """Offer the download for a model whose weights must be fetched."""
        if self.task is not None and self.model_id == model_id:
            return
        self.model_id = model_id
        self.button.setVisible(weights == "download")
        self.button.setEnabled(self.task is None)
        if self.task is None:
            self.label.setText("")

    @Slot()
    def start(self) -> None:
        if self.task is not None or not self.model_id:
            return
        self.button.setEnabled(False)
        self.bar.setRange(0, 0)
        self.bar.setVisible(True)
        self.cancel.setVisible(True)
        self.label.setText("connecting…")
        task = start_job(partial(fetch, self.model_id), "download", self)
        task.events.connect(self._on_events)
        task.succeeded.connect(partial(self._on_done, task, ""))
        task.failed.connect(partial(self._on_failed, task))
        self.task = task

    @Slot(list)
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, Progress):
                if event.total:
                    self.bar.setRange(0, 1000)
                    self.bar.setValue(int(1000 * event.done / event.total))
                self.label.setText(event.phase.split(": ", 1)[-1])

    @Slot()
    def _on_cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_failed(self, task: Job, message: str, _details: str) -> None:
        from ....core import Cancelled

        cancelled = isinstance(task.error, Cancelled)
        self._on_done(task, "" if cancelled else message or "the download failed", cancelled)

    def _on_done(self, task: Job, problem: object, cancelled: object = False) -> None:
        if task is not self.task:
            return
        self.task = None
        self.bar.setVisible(False)
        self.cancel.setVisible(False)
        self.button.setEnabled(True)
        if cancelled is True:
            self.label.setText("download cancelled")
        elif problem:
            self.label.setText("not downloaded")  # (the same reason may already be shown)
            self.refused.emit(self.model_id, str(problem))
        else:
            self.button.setVisible(False)
            self.label.setText("weights on this computer")
            self.fetched.emit(self.model_id)
