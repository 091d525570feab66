"""The "Know your data" window: the data seen through the pretrained network before training
(and through the trained one after), the likely label errors to review, and the duplicates.

Everything is computed in a worker thread (features from the cache, the map, the probe, the
pairs); the window only draws. A decision in the review (leave an image out, relabel it) goes
into the project's data settings at once, so every run from then on, in the window or from a
saved project on the command line, applies it; the files themselves are never touched.
"""

from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core import (
    Inspection,
    Progress,
    duplicate_rows,
    embed,
    inspect_data,
    issue_rows,
    relative_name,
    review_mark,
    run_features,
    separability,
    with_threshold,
)
from ..state import AppState
from ..worker import Task, start_task
from .duplicate_tab import DuplicateTab
from .map_view import EmbeddingMap
from .review_list import ReviewList


def _percent(value: float | None) -> str:
    return "n/a (a class has fewer than two images)" if value is None else f"{100 * value:.0f} %"


class LensWindow(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.state = state
        self.setWindowTitle("Know your data")
        self.resize(1200, 760)
        self.result: Inspection | None = None
        self.task: Task | None = None
        self._build()
        state.run_changed.connect(self._on_run_changed)

    def _build(self) -> None:
        self.inspect_button = QPushButton("Inspect the data")
        self.inspect_button.clicked.connect(self.start)
        self.trained_button = QPushButton("Map after training")
        self.trained_button.setToolTip("The same map from the current trained model's features")
        self.trained_button.clicked.connect(self.start_trained)
        self.trained_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.status = QLabel("Computes the pretrained network's features of every image (kept "
                             "for training), then maps them, checks the labels and looks for "
                             "near-duplicates.")
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.inspect_button)
        top.addWidget(self.trained_button)
        top.addWidget(self.progress)
        top.addWidget(self.status, 1)
        self.before = EmbeddingMap("Pretrained features")
        self.after = EmbeddingMap("After training")
        self.after.hide()
        for view in (self.before, self.after):
            view.activated.connect(lambda i, v=view: self.open_file(v.paths[i]))
        self.before.selected.connect(self._on_selected)
        maps = QSplitter()
        maps.addWidget(self.before)
        maps.addWidget(self.after)
        self.selection_label = QLabel("Drag around points to select them (lasso); the wheel "
                                      "zooms; hover a point to see the image, click to open it.")
        self.exclude_button = QPushButton("Exclude selected from training")
        self.exclude_button.setEnabled(False)
        self.exclude_button.clicked.connect(self.exclude_selected)
        below = QHBoxLayout()
        below.addWidget(self.selection_label, 1)
        below.addWidget(self.exclude_button)
        map_tab = QWidget()
        map_layout = QVBoxLayout(map_tab)
        map_layout.addWidget(maps, 1)
        map_layout.addLayout(below)
        self.review = ReviewList()
        self.review.marked.connect(self.mark)
        self.review.activated.connect(self.open_file)
        self.duplicate_tab = DuplicateTab()
        self.duplicate_tab.threshold_changed.connect(self._on_threshold)
        self.duplicates = self.duplicate_tab.list
        self.duplicates.activated.connect(self.open_file)
        self.tabs = QTabWidget()
        self.tabs.addTab(map_tab, "Map")
        self.tabs.addTab(self.review, "Likely label errors")
        self.tabs.addTab(self.duplicate_tab, "Duplicates")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    # --- work -------------------------------------------------------------------------------

    @Slot()
    def start(self) -> None:
        data = self.state.config.data
        if not data.root or (self.task is not None and self.task.running):
            self.status.setText("Choose an image folder on the Data page first."
                                if not data.root else self.status.text())
            return
        backbone = self.state.config.model.backbone
        self._busy(f"Inspecting {data.root} with {backbone}…")
        cut = self.duplicate_tab.value()
        self.task = start_task(
            lambda cb, cancel: inspect_data(data, backbone, threshold=cut, callbacks=cb,
                                            cancel=cancel),
            "inspect", self)
        self.task.events.connect(self._on_events)
        self.task.succeeded.connect(self.show_result)
        self.task.failed.connect(self._on_failed)

    @Slot()
    def start_trained(self) -> None:
        if self.result is None or not self.state.run_dir:
            return
        samples, run_dir = self.result.data.samples, self.state.run_dir
        labels = self.result.data.labels

        def work(cb: list, cancel) -> tuple:
            feats = run_features(run_dir, samples, callbacks=cb, cancel=cancel)
            return embed(feats, 0), separability(feats, labels)

        self._busy("Mapping the trained model's features…")
        self.task = start_task(work, "trained map", self)
        self.task.events.connect(self._on_events)
        self.task.succeeded.connect(self.show_trained)
        self.task.failed.connect(self._on_failed)

    def _busy(self, text: str) -> None:
        self.status.setText(text)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.inspect_button.setEnabled(False)
        self.trained_button.setEnabled(False)

    def _idle(self) -> None:
        self.progress.hide()
        self.inspect_button.setEnabled(True)
        self.trained_button.setEnabled(self.result is not None and bool(self.state.run_dir))

    @Slot(str)
    def _on_run_changed(self, _run_dir: str) -> None:
        if self.task is None or not self.task.running:
            self._idle()

    @Slot(list)
    def _on_events(self, events: list) -> None:
        steps = [e for e in events if isinstance(e, Progress)]
        if steps:
            last = steps[-1]
            self.progress.setRange(0, max(last.total, 1))
            self.progress.setValue(last.done)
            self.progress.setFormat(f"{last.phase} %p%")

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self._idle()
        self.status.setText(f"Could not inspect: {message}")

    @Slot(object)
    def show_result(self, result: Inspection) -> None:
        self.result = result
        data = result.data
        names = [data.name(i) for i in range(len(data.samples))]
        texts = [f"{n}\n{data.classes[s.label]} · {side}" for n, s, side
                 in zip(names, data.samples, data.split, strict=True)]
        self.before.set_points(result.coords, data.labels, data.classes,
                               [s.path for s in data.samples], texts)
        self._fill_review()
        self._fill_duplicates()
        seconds = sum(result.seconds.values())
        self.status.setText(
            f"{len(data.samples)} images · k-NN separability {_percent(result.separability)} · "
            f"{len(result.flagged)} likely label errors · {len(result.duplicates)} near-duplicate "
            f"pairs · {seconds:.0f} s")
        self.tabs.setTabText(1, f"Likely label errors ({len(result.flagged)})")
        self._idle()

    def _fill_duplicates(self) -> None:
        if self.result is not None:
            self.duplicates.fill(duplicate_rows(self.result), self.result.data.root)
        self.tabs.setTabText(2, f"Duplicates ({self.duplicates.rowCount()})")

    @Slot(float)
    def _on_threshold(self, value: float) -> None:
        """The pairs again from the features already computed."""
        if self.result is not None and self.result.threshold != value:
            self.result = with_threshold(self.result, value)
            self._fill_duplicates()

    def _fill_review(self) -> None:
        assert self.result is not None
        rows = issue_rows(self.result)
        data = self.state.config.data
        decisions = {name: "exclude" for name in data.exclude}
        decisions.update(r.rpartition("=")[::2] for r in data.relabel)
        paths = [os.path.join(self.result.data.root, r["file"]) for r in rows]
        self.review.fill(rows, paths, self.result.data.classes, decisions)

    @Slot(object)
    def show_trained(self, made: tuple) -> None:
        coords, score = made
        assert self.result is not None
        self.after.set_points(coords, self.result.data.labels, self.result.data.classes,
                              self.before.paths, self.before.texts)
        self.after.plot.setTitle(f"After training · k-NN separability {_percent(score)}")
        self.after.show()
        self.status.setText(f"Trained model's map: k-NN separability {_percent(score)} (before: "
                            f"{_percent(self.result.separability)})")
        self._idle()

    # --- decisions ----------------------------------------------------------------------------

    @Slot(str, str)
    def mark(self, name: str, action: str) -> None:
        """Record a decision on the file `name` in the project's data settings."""
        data = self.state.config.data
        exclude, relabel = review_mark(data.exclude, data.relabel, name, action or None)
        self.state.set_data(dataclasses.replace(data, exclude=exclude, relabel=relabel))

    @Slot(list)
    def _on_selected(self, indices: list) -> None:
        self.exclude_button.setEnabled(bool(indices))
        self.selection_label.setText(f"{len(indices)} selected" if indices else
                                     "Nothing selected")

    @Slot()
    def exclude_selected(self) -> None:
        if self.result is None:
            return
        root = self.result.data.root
        for index in self.before.selection.tolist():
            self.mark(relative_name(root, self.result.data.samples[index].path), "exclude")
        self.selection_label.setText(f"{len(self.before.selection)} images excluded from "
                                     "training")
        if self.result is not None:
            self._fill_review()

    @Slot(str)
    def open_file(self, path: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))
