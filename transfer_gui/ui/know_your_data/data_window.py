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
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
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
    Cancelled,
    DataFeatures,
    Inspection,
    Progress,
    count,
    data_features,
    duplicate_rows,
    embed,
    inspect,
    issue_rows,
    relative_name,
    review_mark,
    run_features,
    separability,
    with_threshold,
)
from ..screen import fit_on_screen
from ..state import AppState
from ..worker import Job, start_job
from .duplicate_tab import DuplicateTab
from .map_view import EmbeddingMap
from .review_list import ReviewList

INTRO = ("Computes the pretrained network's features of every image (kept for training), then "
         "maps them, checks the labels and looks for near-duplicates.")
LASSO_HELP = ("Drag around points to select them (lasso); the wheel zooms; hover a point to see "
              "the image, click to open it.")


def _percent(value: float | None) -> str:
    return "n/a (a class has fewer than two images)" if value is None else f"{100 * value:.0f} %"


class KnowYourDataWindow(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.state = state
        self.setWindowTitle("Know your data")
        fit_on_screen(self, 1200, 760)
        self.result: Inspection | None = None
        self.task: Job | None = None
        self._root = ""  # the folder shown (or being inspected)
        self._build()
        state.run_changed.connect(self._on_run_changed)
        state.data_changed.connect(self._on_data_changed)

    def _build(self) -> None:
        self.inspect_button = QPushButton("Inspect the data")
        self.inspect_button.clicked.connect(self.start)
        self.trained_button = QPushButton("Map after training")
        self.trained_button.setToolTip("The same map from the current trained model's features")
        self.trained_button.clicked.connect(self.start_trained)
        self.trained_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the inspection (features computed so far stay cached)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.status = QLabel(INTRO)
        self.status.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(self.inspect_button)
        top.addWidget(self.trained_button)
        top.addWidget(self.stop_button)
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
        self.selection_label = QLabel(LASSO_HELP)
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
        size = self.state.config.train.image_size  # the features a probe then finds cached
        self.clear()
        self._root = data.root
        self._busy(f"Inspecting {data.root} with {backbone}…")
        self._run(partial(_features_and_map, data, backbone, size), "inspect",
                  self._on_mapped)

    def _run(self, work: partial, name: str, done: Callable[[Any], None]) -> None:
        self.task = start_job(work, name, self)
        self.task.events.connect(self._on_events)
        self.task.succeeded.connect(partial(self._if_current, self.task, done))
        self.task.failed.connect(partial(self._on_failed, self.task))

    def _if_current(self, task: Job, done: Callable[[Any], None], result: object) -> None:
        if task is self.task:
            done(result)

    def _on_mapped(self, made: tuple[DataFeatures, Any]) -> None:
        """The map at once; the label check and the duplicates follow in the background."""
        feats, coords = made
        self._draw_map(feats, coords)
        self.status.setText(f"{len(feats.samples)} images mapped; checking the labels and "
                            "looking for duplicates…")
        self._run(partial(_rest, feats, coords, self.duplicate_tab.value()), "inspect",
                  self.show_result)

    @Slot()
    def stop(self) -> None:
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping…")

    @Slot()
    def start_trained(self) -> None:
        if self.result is None or not self.state.run_dir:
            return
        self._busy("Mapping the trained model's features…")
        self._run(partial(_trained_map, self.state.run_dir, self.result.data), "trained map",
                  self.show_trained)

    def _busy(self, text: str) -> None:
        self.status.setText(text)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.inspect_button.setEnabled(False)
        self.trained_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.stop_button.show()

    def _idle(self) -> None:
        self.progress.hide()
        self.stop_button.hide()
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

    @Slot(str)
    def _on_data_changed(self) -> None:
        """Another folder: nothing of the previous one stays (its list, map, counts)."""
        if self._root and self.state.config.data.root != self._root:
            if self.task is not None and self.task.running:
                self.task.cancel()
                self.task = None
                self._idle()
            self.clear()
            self.status.setText(INTRO)

    def clear(self) -> None:
        self.result = None
        self._root = ""
        self.before.set_points(np.zeros((0, 2)), np.zeros(0, dtype=int), [], [], [])
        self.after.hide()
        self.review.fill([], [], [], {})
        self.duplicates.fill([], "")
        self.tabs.setTabText(1, "Likely label errors")
        self.tabs.setTabText(2, "Duplicates")
        self.selection_label.setText(LASSO_HELP)
        self.exclude_button.setEnabled(False)
        self.trained_button.setEnabled(False)

    def _on_failed(self, task: Job, message: str, _details: str) -> None:
        if task is not self.task:
            return
        self._idle()
        if isinstance(task.error, Cancelled):
            self.status.setText("Stopped. Inspect again to finish (the features computed so "
                                "far are kept).")
        else:
            self.status.setText(f"Could not inspect: {message}")

    def _draw_map(self, data: DataFeatures, coords: Any) -> None:
        names = [data.name(i) for i in range(len(data.samples))]
        texts = [f"{n}\n{data.classes[s.label]} · {side}" for n, s, side
                 in zip(names, data.samples, data.split, strict=True)]
        self.before.set_points(coords, data.labels, data.classes,
                               [s.path for s in data.samples], texts)

    @Slot(object)
    def show_result(self, result: Inspection) -> None:
        self.result = result
        data = result.data
        self._root = data.root
        if len(self.before.coords) != len(data.samples):
            self._draw_map(data, result.coords)
        self._fill_review()
        self._fill_duplicates()
        seconds = sum(result.seconds.values())
        self.status.setText(
            f"{len(data.samples)} images · k-NN separability {_percent(result.separability)} · "
            f"{len(result.flagged)} likely label errors · "
            f"{count(self.duplicates.rowCount(), 'duplicate pair')} · {seconds:.0f} s")
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
        rows = issue_rows(self.result)  # the ranking: the same list as `inspect` writes
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
        root, data = self.result.data.root, self.state.config.data
        exclude, relabel = data.exclude, data.relabel
        for index in self.before.selection.tolist():  # decided here, written once
            name = relative_name(root, self.result.data.samples[index].path)
            exclude, relabel = review_mark(exclude, relabel, name, "exclude")
        self.state.set_data(dataclasses.replace(data, exclude=exclude, relabel=relabel))
        self.selection_label.setText(f"{len(self.before.selection)} images excluded from "
                                     "training")
        self._fill_review()

    @Slot(str)
    def open_file(self, path: str) -> None:
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(path)):
            self.status.setText(f"Could not open {os.path.basename(path)}: no application on "
                                f"this computer is set to open its kind of file ({path}).")


def _features_and_map(data: Any, backbone: str, size: int | None, callbacks: list,
                      cancel: Any) -> tuple[DataFeatures, Any]:
    feats = data_features(data, backbone, callbacks=callbacks, cancel=cancel, image_size=size)
    return feats, embed(feats.features, 0, _task(callbacks, cancel))


def _rest(feats: DataFeatures, coords: Any, threshold: float, callbacks: list,
          cancel: Any) -> Inspection:
    return inspect(feats, threshold=threshold, callbacks=callbacks, cancel=cancel, coords=coords)


def _trained_map(run_dir: str, data: DataFeatures, callbacks: list, cancel: Any) -> tuple:
    """The trained run's features of the same images, prepared as for the first map."""
    feats = run_features(run_dir, data.samples, callbacks=callbacks, cancel=cancel,
                         pre=data.pre)
    return embed(feats, 0, _task(callbacks, cancel)), separability(feats, data.labels)


def _task(callbacks: list, cancel: Any) -> Any:
    from ...core import Job as EngineTask

    return EngineTask.of(callbacks, cancel)
