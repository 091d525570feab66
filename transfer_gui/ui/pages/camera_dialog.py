"""The camera view of the Label page: pick a camera, see it live, hold a class's Record button
to save frames into that class, and Play to see the current model's top classes live.

A capture thread reads the camera and hands every frame to the engine's `LiveSession` (the
path the tests feed with generated frames): it records and, while playing, leaves the newest
frame for the prediction thread, which drops what it has no time for. The GUI thread only
shows the newest frame at most 30 times a second and the latest answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core import (
    BurstRecorder,
    CameraError,
    CameraSource,
    CancelToken,
    LabelPool,
    LiveResult,
    LiveSession,
    PatternSource,
    list_cameras,
    predict_live,
)
from ..widgets.inputs.flow_layout import FlowLayout

PATTERN = "Test pattern (generated)"
TOP_K = 3
FPS = 30


class CameraDialog(QDialog):
    recorded = Signal(list)  # the files of a finished burst
    _answered = Signal(object)  # LiveResult, from the prediction thread

    def __init__(self, pool: LabelPool, predictor: Callable[[Any], Any] | None,
                 parent: QWidget | None = None, sources: dict[str, Callable[[], Any]] | None
                 = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Camera")
        self.pool, self.predictor = pool, predictor
        self.recorder = BurstRecorder(pool)
        self.session = LiveSession(self.recorder)
        self.frame: np.ndarray | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._cancel = CancelToken()
        self._answered.connect(self._on_answer)
        self._build(sources)
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // FPS)
        self.timer.timeout.connect(self._show_frame)

    def _build(self, sources: dict[str, Callable[[], Any]] | None) -> None:
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.camera_box = QComboBox()
        self.sources = sources or self._found_sources()
        self.camera_box.addItems(list(self.sources))
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.5, 30)
        self.rate.setValue(5)
        self.rate.setSuffix(" frames/s")
        self.rate.valueChanged.connect(self._on_rate)
        for w in (QLabel("Camera"), self.camera_box, self.start_button, QLabel("Record at"),
                  self.rate):
            row.addWidget(w)
        row.addStretch(1)
        layout.addLayout(row)
        self.view = QLabel("No camera started")
        self.view.setMinimumSize(480, 360)
        self.view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.view.setStyleSheet("background:#1d2433; color:#e6e9ef;")
        layout.addWidget(self.view, 1)
        holder = QWidget()
        self.buttons = FlowLayout(holder)
        for name in self.pool.classes:
            button = QPushButton(f"● Record {name}")
            button.setToolTip(f"Hold to save frames into {name!r}")
            button.pressed.connect(partial(self.recorder.start, name))
            button.released.connect(self._on_released)
            self.buttons.addWidget(button)
        self.play = QPushButton("▶ Play")
        self.play.setCheckable(True)
        self.play.setEnabled(self.predictor is not None)
        self.play.setToolTip("Live prediction of the current model" if self.predictor else
                             "Train a model first: Play shows its live predictions")
        self.play.toggled.connect(self._on_play)
        self.buttons.addWidget(self.play)
        layout.addWidget(holder)
        self.bars = [QProgressBar() for _ in range(TOP_K)]
        for bar in self.bars:
            bar.setRange(0, 1000)
            bar.setFormat("")
            layout.addWidget(bar)
        self.info = QLabel("")
        layout.addWidget(self.info)
        if list(self.sources) == [PATTERN]:
            self.view.setText(getattr(self, "_problem", "") or (
                "No camera found: connect one, or allow this application to use it (then "
                "reopen this window); the test pattern shows how it works."))
            self.view.setWordWrap(True)

    def _found_sources(self) -> dict[str, Callable[[], Any]]:
        found: dict[str, Callable[[], Any]] = {}
        try:
            for index in list_cameras():
                found[f"Camera {index}"] = partial(CameraSource, index)
        except CameraError as exc:
            self._problem = str(exc)
        found[PATTERN] = PatternSource
        return found

    # --- capture ------------------------------------------------------------------------------
    @Slot()
    def start(self) -> None:
        self.stop()
        name = self.camera_box.currentText()
        try:
            source = self.sources[name]()
        except CameraError as exc:
            self.view.setText(str(exc))
            return
        self._stop = threading.Event()
        thread = threading.Thread(target=self._capture, args=(source, self._stop),
                                  name="camera", daemon=True)
        self._threads.append(thread)
        thread.start()
        self.timer.start()
        if getattr(self, "_problem", "") and name == PATTERN:
            self.info.setText(self._problem)

    def _capture(self, source: Any, stop: threading.Event) -> None:
        pattern = isinstance(source, PatternSource)
        while not stop.is_set():
            frame = source.read()
            if frame is None:
                break
            self.frame = frame
            self.session.offer(frame)
            if pattern:
                time.sleep(1 / FPS)  # a generated source runs at a camera's pace
        if hasattr(source, "close"):
            source.close()

    @Slot()
    def _show_frame(self) -> None:
        frame = self.frame
        if frame is None:
            return
        h, w, _ = frame.shape
        image = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
        self.view.setPixmap(QPixmap.fromImage(image).scaled(
            self.view.size(), Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))

    @Slot(float)
    def _on_rate(self, value: float) -> None:
        self.recorder.rate = value

    @Slot()
    def _on_released(self) -> None:
        burst = self.recorder.stop()
        if burst:
            self.info.setText(f"{len(burst)} frames saved into {self.pool.labels[burst[0]]}")
            self.recorded.emit(burst)

    # --- play ---------------------------------------------------------------------------------
    @Slot(bool)
    def _on_play(self, on: bool) -> None:
        self.session.playing = on
        self._cancel.cancel()
        if not on or self.predictor is None:
            return
        self._cancel = CancelToken()
        thread = threading.Thread(target=predict_live, args=(
            self.session.mailbox, self.predictor, self._answered.emit, self._cancel),
            name="live prediction", daemon=True)
        self._threads.append(thread)
        thread.start()

    @Slot(object)
    def _on_answer(self, result: LiveResult) -> None:
        for bar, (name, p) in zip(self.bars, result.top_k, strict=False):
            bar.setValue(int(1000 * p))
            bar.setFormat(f"{name}  {100 * p:.0f} %")
        self.info.setText(f"{1000 * result.seconds:.0f} ms a frame · {result.predicted} "
                          f"predicted, {result.dropped} dropped (the model was busy)")

    def stop(self) -> None:
        self._stop.set()
        self._cancel.cancel()
        self.timer.stop()
        for thread in self._threads:
            thread.join(2)
        self._threads = []

    def done(self, result: int) -> None:  # closing: the threads end first
        self.stop()
        super().done(result)


def run_predictor(run_dir: str) -> Callable[[object], list] | None:
    """The top-3 of the trained run `run_dir` on a frame, loaded on first use (in the thread
    that predicts); None without a run."""
    if not run_dir:
        return None
    held: list = []

    def predict(image: object) -> list:
        if not held:
            from ...core import Predictor

            held.append(Predictor.from_run(run_dir))
        return held[0].predict_images([image], 3)[0]

    return predict
