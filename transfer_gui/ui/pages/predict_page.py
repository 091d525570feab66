"""Step 5, Predict: drop images or folders, see top-k bars and a Grad-CAM overlay.

Results stream in chunk by chunk while a batch runs; Stop (or Clear) cancels it within a chunk,
and a generation number tags each batch so nothing from a cancelled one shows up afterwards.
Grad-CAM is computed only for the results on screen, when they come into view.
"""

from __future__ import annotations

import os
from functools import partial

from PySide6.QtCore import Slot
from PySide6.QtGui import QGuiApplication, QImage, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core import count
from ..state import AppState
from ..widgets.inputs.drop_zone import DropZone
from ..widgets.notices.dialogs import show_error
from ..widgets.notices.progress import JobProgress
from ..widgets.tables.prediction_list import PredictionList
from ..worker import Job, start_job
from .common import page_title
from .predict_jobs import Channel, PredictorCache, Result, Stream, cam_overlays, predict_stream
from .predict_words import expand_paths, save_pasted, summary_text
from .serve_panel import ServePanel

UNCERTAIN_PERCENT = 50  # the default threshold; core.predict.UNCERTAIN_BELOW in percent


INPUTS = "predict_inputs"  # the project's predicted images, predicted again when it opens
GRADCAM = "predict_gradcam"  # the Grad-CAM tick, kept with the project


class PredictPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.cache = PredictorCache()
        self.stream = Stream(self)
        self.stream.chunk.connect(self._on_chunk)
        self.stream.cam.connect(self._on_cam)
        self.task: Job | None = None
        self.cam_task: Job | None = None
        self.queue: list[str] = []
        self._cams_wanted: list[int] = []
        self._generation = 0
        self._batch = (0, 0)  # (results before the running batch, its size)
        self._stopped = False
        self._build()
        state.run_changed.connect(self._on_run_changed)
        state.model_changed.connect(self._update_source)
        state.project_loaded.connect(self._on_project_loaded)
        self._update_source()

    @Slot()
    def _on_project_loaded(self) -> None:
        """The images predicted before the project was saved, predicted again; Grad-CAM as
        it was."""
        extra = self.state.project.extra
        self.clear()
        self.cam.setChecked(bool(extra.get(GRADCAM)))
        listed = extra.get(INPUTS)
        files = [f for f in listed if isinstance(f, str) and os.path.isfile(f)] \
            if isinstance(listed, list) else []
        if files:
            self.queue.extend(files)
            self._next()

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Predict", "Before training, the network's own ImageNet "
                                               "classes answer; after training, your model."))
        layout.addLayout(self._build_options())
        layout.addLayout(self._build_actions())
        self.drop = DropZone("Drop images or folders here to classify them")
        self.drop.dropped.connect(self.add_paths)
        self.progress = JobProgress()
        self.progress.setVisible(False)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.list = PredictionList()
        self.list.rows_shown.connect(self._on_rows_shown)
        for widget in (self.drop, self.progress, self.summary):
            layout.addWidget(widget)
        layout.addWidget(self.list, 1)
        self.serve = ServePanel()
        layout.addWidget(self.serve)
        shortcut = QShortcut(QKeySequence.StandardKey.Paste, self)
        shortcut.activated.connect(self.paste)
        self._on_display_changed()

    def _build_options(self) -> QHBoxLayout:
        self.source = QComboBox()
        # long run names must not widen the window: the list shows them whole when opened
        self.source.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(16)
        self.source.currentIndexChanged.connect(self._on_source_changed)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(3)
        self.top_k.setToolTip("How many of the most likely classes to show for each image")
        self.cam = QCheckBox("Grad-CAM overlay")
        self.cam.setToolTip("Colour the parts of the image that drove the top prediction "
                            "(computed for the images on screen)")
        self.cam.toggled.connect(self._on_display_changed)
        self.threshold = QSpinBox()
        self.threshold.setRange(1, 99)
        self.threshold.setValue(UNCERTAIN_PERCENT)
        self.threshold.setSuffix(" %")
        self.threshold.setToolTip("Results whose top class has a lower probability are flagged "
                                  "\"uncertain\"; the orange tick on the bars marks it")
        self.threshold.valueChanged.connect(self._on_display_changed)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model:"))
        row.addWidget(self.source, 1)
        row.addWidget(QLabel("Top"))
        row.addWidget(self.top_k)
        row.addWidget(QLabel("Uncertain below"))
        row.addWidget(self.threshold)
        row.addWidget(self.cam)
        return row

    def _build_actions(self) -> QHBoxLayout:
        open_files = QPushButton("Open images…")
        open_files.clicked.connect(self._on_open_files)
        open_folder = QPushButton("Open folder…")
        open_folder.clicked.connect(self._on_open_folder)
        paste = QPushButton("Paste")
        paste.setToolTip("Classify the image or files on the clipboard (Ctrl+V)")
        paste.clicked.connect(self.paste)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop classifying; the results so far stay")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Stop classifying and remove every result")
        self.clear_button.clicked.connect(self._on_clear_clicked)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._on_export)
        self.export_button.setEnabled(False)
        row = QHBoxLayout()
        for button in (open_files, open_folder, paste):
            row.addWidget(button)
        row.addStretch(1)
        for button in (self.stop_button, self.clear_button, self.export_button):
            row.addWidget(button)
        return row

    @property
    def results(self) -> list[Result]:
        return self.list.results_model.results

    def labels(self) -> list[str | None]:
        return [r.label for r in self.results]

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    # --- which model ------------------------------------------------------------------------

    def _update_source(self) -> None:
        self.serve.set_run(self.state.run_dir)
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
        paths = [r.path for r in self.results] + self.queue
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
                self.add_paths([save_pasted(image)])
                return
        show_error(self, "Nothing to paste", "The clipboard holds no image or image files.")

    @Slot(list)
    def add_paths(self, paths: list[str]) -> None:
        """Classify these files and the images in these folders (a folder is searched in the
        background: a dropped drive must not freeze the window)."""
        if any(os.path.isdir(p) for p in paths):
            self.summary.setText("Looking for images in what was dropped…")
            task = start_job(partial(expand_paths, paths), "find images", self)
            task.succeeded.connect(partial(self._on_found, self._generation))
            return
        self._add_files(paths)

    def _on_found(self, generation: int, files: list[str]) -> None:
        if generation == self._generation:  # else Clear came first
            self._add_files(files)

    def _add_files(self, files: list[str]) -> None:
        if not files:
            show_error(self, "No images", "No image files were found in what was dropped.")
            return
        self.queue.extend(files)
        self.state.set_extra(INPUTS, [*self.state.project.extra.get(INPUTS, []), *files])
        self._next()

    # --- the batch --------------------------------------------------------------------------

    def _next(self) -> None:
        if self.running or not self.queue:
            return
        paths, self.queue = self.queue, []
        self._batch, self._stopped = (len(self.results), len(paths)), False
        self.progress.setVisible(True)
        self.progress.setRange(0, len(paths))
        self.progress.setValue(0)
        self.stop_button.setEnabled(True)
        fn = partial(predict_stream, self._channel(), paths, self.top_k.value())
        task = start_job(fn, "predict", self)
        task.events.connect(self.progress.on_events)
        task.failed.connect(partial(self._on_failed, task))
        task.done.connect(partial(self._on_batch_done, task))
        self.task = task
        self._show_summary()

    @Slot(int, list)
    def _on_chunk(self, generation: int, results: list[Result]) -> None:
        if generation != self._generation:
            return  # from a batch that Clear or a change of model cancelled
        self.list.results_model.append(results)
        self.export_button.setEnabled(True)
        self._show_summary()

    def _on_batch_done(self, task: Job) -> None:
        if task is not self.task:
            return
        self.task = None
        self.progress.setVisible(False)
        self.stop_button.setEnabled(False)
        self._show_summary()
        self._next()

    def _on_failed(self, task: Job, message: str, details: str) -> None:
        if task is self.task and not task.token.cancelled:
            show_error(self, "Cannot classify", message, details)

    @Slot()
    def stop(self) -> None:
        """Cancel the running batch (and the waiting ones); the results so far stay."""
        self.queue = []
        if self.running and self.task is not None:
            self._stopped = True
            self.task.cancel()
            self._show_summary()

    @Slot()
    def _on_clear_clicked(self) -> None:
        self.clear()
        self.state.set_extra(INPUTS, [])  # the project forgets them too

    @Slot()
    def clear(self) -> None:
        self._generation += 1  # anything still in flight is ignored when it arrives
        self.queue, self._cams_wanted = [], []
        for task in (self.task, self.cam_task):
            if task is not None:
                task.cancel()  # it ends within a chunk (or an image) and is forgotten now
        self.task = self.cam_task = None
        self.progress.setVisible(False)
        self.stop_button.setEnabled(False)
        self._batch, self._stopped = (0, 0), False
        self.list.clear_results()
        self.summary.setText("")
        self.export_button.setEnabled(False)

    def _channel(self) -> Channel:
        return Channel(self.cache, self.source.currentData(), self._generation, self.stream)

    def _show_summary(self) -> None:
        self.summary.setText(summary_text(self.results, self._batch, self.running,
                                          self._stopped, self.threshold.value() / 100,
                                          self.cache.where))

    # --- Grad-CAM on demand -----------------------------------------------------------------

    @Slot()
    def _on_display_changed(self) -> None:
        self.list.set_display(self.cam.isChecked(), self.threshold.value() / 100)
        if bool(self.state.project.extra.get(GRADCAM)) != self.cam.isChecked():
            self.state.set_extra(GRADCAM, self.cam.isChecked())  # (unset means off)
        if self.results:
            self._show_summary()

    @Slot(list)
    def _on_rows_shown(self, rows: list[int]) -> None:
        if not self.cam.isChecked():
            return
        results = self.results
        self._cams_wanted = [r for r in rows if r not in self.list.overlays
                             and r < len(results) and results[r].error is None]
        self._next_cams()

    def _next_cams(self) -> None:
        if (self.cam_task is not None and self.cam_task.running) or not self._cams_wanted:
            return
        jobs = [(row, self.results[row].path) for row in self._cams_wanted]
        self._cams_wanted = []
        fn = partial(cam_overlays, self._channel(), jobs)
        self.cam_task = start_job(fn, "gradcam", self)
        self.cam_task.done.connect(self._next_cams)

    @Slot(int, int, QImage)
    def _on_cam(self, generation: int, row: int, image: QImage) -> None:
        if generation == self._generation:
            self.list.set_overlay(row, image)

    # --- export -----------------------------------------------------------------------------

    @Slot()
    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export predictions", "predictions.csv",
                                              "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        from ...core import Prediction, write_csv

        predictions = [Prediction(r.path, r.top_k, r.error, r.truth) for r in self.results]
        try:
            rows = write_csv(path, predictions, self.top_k.value(), self.threshold.value() / 100)
        except OSError as exc:
            show_error(self, "Cannot export", f"Could not write {path}: {exc}")
            return
        self.state.status_message.emit(f"Saved {count(rows, 'prediction')} to {path}")

