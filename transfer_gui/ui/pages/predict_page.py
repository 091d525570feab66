"""Step 5, Predict: drop images or folders, see top-k bars and a Grad-CAM overlay."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.events import Progress
from ..qimage import pil_to_qimage
from ..state import AppState
from ..widgets.dialogs import show_error
from ..widgets.drop_zone import DropZone
from ..widgets.prob_bars import ProbabilityBars
from ..widgets.progress import TaskProgress
from ..worker import Task, start_task
from .common import page_title

THUMB = 144
MAX_SHOWN = 500


@dataclass
class Result:
    path: str
    top_k: list[tuple[str, float]]
    error: str | None
    thumb: QImage | None
    cam: QImage | None = None


class PredictorCache:
    """Builds a predictor once per model and reuses it for every later image."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._predictor: Any = None

    def get(self, key: tuple[str, str], callbacks: list, cancel: Any) -> Any:
        from ...core.predict import Predictor
        from ...core.runmeta import run_revision

        kind, name = key
        # a run resumed since is loaded again: the key holds its files' revision
        stamp = (kind, name, run_revision(name) if kind == "run" else None)
        with self._lock:
            if stamp != self._key:
                self._predictor = (Predictor.from_run(name, "cpu") if kind == "run" else
                                   Predictor.imagenet(name, "cpu", callbacks, cancel))
                self._key = stamp
            return self._predictor


class ResultCard(QWidget):
    def __init__(self, result: Result, show_cam: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.image = QLabel()
        self.image.setFixedSize(THUMB, THUMB)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setObjectName("resultImage")
        name = QLabel(f"<b>{os.path.basename(result.path)}</b>")
        name.setToolTip(result.path)
        self.bars = ProbabilityBars()
        info = QVBoxLayout()
        info.addWidget(name)
        if result.error:
            error = QLabel(f"Cannot classify: {result.error}")
            error.setObjectName("errorText")
            error.setWordWrap(True)
            info.addWidget(error)
        else:
            self.bars.set_rows(result.top_k)
            info.addWidget(self.bars)
        info.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.image)
        layout.addLayout(info, 1)
        self.set_cam(show_cam)

    def set_cam(self, show: bool) -> None:
        image = self.result.cam if show and self.result.cam is not None else self.result.thumb
        if image is None:
            self.image.setText("no preview")
            return
        pixmap = QPixmap.fromImage(image)
        self.image.setPixmap(pixmap.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation))

    @property
    def label(self) -> str | None:
        return self.result.top_k[0][0] if self.result.top_k else None


class PredictPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.cache = PredictorCache()
        self.task: Task | None = None
        self.queue: list[str] = []
        self.results: list[Result] = []
        self._build()
        state.run_changed.connect(self._on_run_changed)
        state.model_changed.connect(self._update_source)
        self._update_source()

    def _build(self) -> None:
        self.source = QComboBox()
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(3)
        self.cam = QCheckBox("Grad-CAM overlay")
        self.cam.setToolTip("Colour the parts of the image that drove the top prediction")
        self.cam.toggled.connect(self._on_cam_toggled)
        open_files = QPushButton("Open images…")
        open_files.clicked.connect(self._on_open_files)
        open_folder = QPushButton("Open folder…")
        open_folder.clicked.connect(self._on_open_folder)
        paste = QPushButton("Paste")
        paste.setToolTip("Classify the image or files on the clipboard (Ctrl+V)")
        paste.clicked.connect(self.paste)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._on_export)
        self.export_button.setEnabled(False)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Model:"))
        row1.addWidget(self.source, 1)
        row1.addWidget(QLabel("Top"))
        row1.addWidget(self.top_k)
        row1.addWidget(self.cam)
        row2 = QHBoxLayout()
        for button in (open_files, open_folder, paste):
            row2.addWidget(button)
        row2.addStretch(1)
        row2.addWidget(clear)
        row2.addWidget(self.export_button)
        self.drop = DropZone("Drop images or folders here to classify them")
        self.drop.dropped.connect(self.add_paths)
        self.progress = TaskProgress()
        self.progress.setVisible(False)
        self.summary = QLabel("")
        self.list = QListWidget()
        self.list.setSpacing(2)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Predict", "Before training, the network's own ImageNet "
                                               "classes answer; after training, your model."))
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.drop)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        shortcut = QShortcut(QKeySequence.StandardKey.Paste, self)
        shortcut.activated.connect(self.paste)

    # --- which model ------------------------------------------------------------------------

    def _update_source(self) -> None:
        current = self.source.currentData()
        backbone = self.state.config.model.backbone
        self.source.blockSignals(True)
        self.source.clear()
        if self.state.run_dir:
            self.source.addItem(f"Trained model: {os.path.basename(self.state.run_dir)}",
                                ("run", self.state.run_dir))
        self.source.addItem(f"{backbone}: ImageNet classes (no training needed)",
                            ("imagenet", backbone))
        index = self.source.findData(current)
        self.source.setCurrentIndex(index if index >= 0 and current and current[0] != "run"
                                    else 0)
        self.source.blockSignals(False)

    @Slot(str)
    def _on_run_changed(self, _run: str) -> None:
        self._update_source()

    @Slot()
    def _on_source_changed(self) -> None:
        paths = [r.path for r in self.results]
        if paths:
            self.clear()
            self.add_paths(paths)

    # --- input ------------------------------------------------------------------------------

    @Slot()
    def _on_open_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open images", os.path.expanduser("~"),
            "Images (*.jpg *.jpeg *.png *.bmp *.gif *.tif *.tiff *.webp);;All files (*)")
        if paths:
            self.add_paths(paths)

    @Slot()
    def _on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images",
                                                  os.path.expanduser("~"))
        if folder:
            self.add_paths([folder])

    @Slot()
    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime.hasUrls():
            paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if paths:
                self.add_paths(paths)
                return
        if mime.hasImage():
            image = QGuiApplication.clipboard().image()
            if not image.isNull():
                self.add_paths([_save_pasted(image)])
                return
        show_error(self, "Nothing to paste", "The clipboard holds no image or image files.")

    @Slot(list)
    def add_paths(self, paths: list[str]) -> None:
        from ...core.predict import expand_inputs

        files = expand_inputs(paths)
        if not files:
            show_error(self, "No images", "No image files were found in what was dropped.")
            return
        self.queue.extend(files)
        self._next()

    def _next(self) -> None:
        if (self.task is not None and self.task.running) or not self.queue:
            return
        paths, self.queue = self.queue, []
        key = self.source.currentData()
        self.progress.setVisible(True)
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        fn = partial(_predict, self.cache, key, paths, self.top_k.value(), self.cam.isChecked())
        task = start_task(fn, "predict", self)
        task.events.connect(self.progress.on_events)
        task.succeeded.connect(self._on_predicted)
        task.failed.connect(self._on_failed)
        task.done.connect(self._next)
        self.task = task

    @Slot(object)
    def _on_predicted(self, results: list[Result]) -> None:
        self.progress.setVisible(False)
        for result in results:
            self.results.append(result)
            if len(self.results) <= MAX_SHOWN:
                self._add_card(result)
        self.export_button.setEnabled(bool(self.results))
        errors = sum(r.error is not None for r in self.results)
        hidden = len(self.results) - min(len(self.results), MAX_SHOWN)
        more = f" · first {MAX_SHOWN} shown, all in the CSV export" if hidden else ""
        skipped = f" · {errors} could not be read" if errors else ""
        self.summary.setText(f"{len(self.results)} images{skipped}{more}")

    def _add_card(self, result: Result) -> None:
        card = ResultCard(result, self.cam.isChecked())
        item = QListWidgetItem()
        item.setSizeHint(QSize(card.sizeHint().width(), THUMB + 14))
        self.list.addItem(item)
        self.list.setItemWidget(item, card)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.progress.setVisible(False)
        show_error(self, "Cannot classify", message, details)

    def cards(self) -> list[ResultCard]:
        return [self.list.itemWidget(self.list.item(i)) for i in range(self.list.count())]

    @Slot()
    def clear(self) -> None:
        self.results = []
        self.list.clear()
        self.summary.setText("")
        self.export_button.setEnabled(False)

    # --- Grad-CAM and export ----------------------------------------------------------------

    @Slot(bool)
    def _on_cam_toggled(self, on: bool) -> None:
        missing = [r for r in self.results if on and r.cam is None and r.error is None]
        if missing:
            paths = [r.path for r in self.results]
            self.clear()
            self.add_paths(paths)  # recomputed with the overlays
            return
        for card in self.cards():
            card.set_cam(on)

    @Slot()
    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", "predictions.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        from ...core.predict import Prediction, write_csv

        predictions = [Prediction(r.path, r.top_k, r.error) for r in self.results]
        try:
            write_csv(path, predictions, self.top_k.value())
        except OSError as exc:
            show_error(self, "Cannot export", f"Could not write {path}: {exc}")


def _save_pasted(image: QImage) -> str:
    from ...core.project import data_home

    folder = data_home() / "pasted"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pasted-{time.strftime('%Y%m%d-%H%M%S')}-{id(image) % 10000}.png"
    image.save(str(path), "PNG")
    return str(path)


def _predict(cache: PredictorCache, key: tuple[str, str], paths: list[str], top_k: int,
             cam: bool, callbacks: list, cancel: Any) -> list[Result]:
    """Runs in a worker thread: classify each file, make its thumbnail and overlay."""
    from ...core.events import check, emit
    from ...core.images import ImageError, decode
    from ...core.predict import overlay

    predictor = cache.get(key, callbacks, cancel)
    results = []
    for done, path in enumerate(paths, start=1):
        check(cancel)
        try:
            image = decode(path, min_side=predictor.preprocess.resize_size)
        except ImageError as exc:
            results.append(Result(path, [], exc.reason, None))
            continue
        top = predictor.predict_images([image], top_k)[0]
        thumb = image.copy()
        thumb.thumbnail((THUMB * 2, THUMB * 2))
        heat = None
        if cam:
            crop = predictor.crop(image)
            heat = pil_to_qimage(overlay(crop, predictor.gradcam(image)))
        results.append(Result(path, top, None, pil_to_qimage(thumb), heat))
        emit(callbacks, Progress("predict", done, len(paths)))
    return results
