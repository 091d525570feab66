"""Step 3, Train: the recipe, Start/Stop, live curves, progress and a log."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core import RunConfig, can_resume, new_run_dir
from ..state import AppState
from ..torchrun.cluster import ClusterDialog, write_for_cluster
from ..torchrun.local import LocalLaunch
from ..torchrun.run_on import CLUSTER, HERE, RunOnBox
from ..widgets.inputs.augment_preview import AugmentPreview, PreviewRequest
from ..widgets.notices.dialogs import show_error
from ..widgets.notices.log_view import LogView
from ..widgets.notices.status_line import StatusLine
from ..widgets.plots.metric_plot import TrainingPlots
from ..worker import Job, start_job
from . import train_texts as texts
from .common import page_title
from .lr_dialog import LRFinderDialog
from .train_form import TensorBoardBox, TrainForm
from .transfer_form import TransferForm
from .watch.live import LiveRun, PastRun

if TYPE_CHECKING:
    from ...core import CancelToken, FolderScan


class TrainPage(QWidget):
    run_finished = Signal(str, str)  # run folder, status
    run_failed = Signal(str)  # the error message
    watch_requested = Signal(str)  # a run folder that another process writes, to follow

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.task: Job | None = None
        self.run_dir = ""
        self.lr_dialog: LRFinderDialog | None = None
        self.elsewhere: LocalLaunch | None = None  # torchrun on this computer's GPUs
        self._build()
        self.past: PastRun | None = None  # a reopened project's last run, being drawn
        self.live = LiveRun(self.plots, self.progress, self.status, self.log,
                            replay=self._replay)
        self.form.edited.connect(self._on_form_edited)
        self.form.augment.activated.connect(self._on_augment_chosen)
        self.form.find_lr_requested.connect(self.find_lr)
        self.transfer.edited.connect(self._on_transfer_edited)
        state.project_loaded.connect(self._on_project_loaded)
        state.model_changed.connect(self._show_defaults)
        state.engine_ready.connect(self._on_engine_ready)
        state.busy_changed.connect(self._update_start)
        state.scan_changed.connect(self._update_preview)
        self._show_defaults()

    def _build(self) -> None:
        self.form = TrainForm()
        self.transfer = TransferForm()
        self.preview = AugmentPreview()
        self.start_button = QPushButton("Start training")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.resume_button = QPushButton("Resume last run")
        self.resume_button.setEnabled(False)
        self.resume_button.setToolTip("Continue the last stopped run from its last finished epoch")
        self.resume_button.clicked.connect(self.resume)
        self.tensorboard = TensorBoardBox(self.state)
        self.run_on = RunOnBox()
        self.run_on.changed.connect(lambda _c: self.start_button.setText(
            self.run_on.start_text()))
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button, 2)
        buttons.addWidget(self.stop_button, 1)
        form_box = QWidget()
        form_layout = QVBoxLayout(form_box)
        form_layout.setContentsMargins(0, 0, 4, 0)
        form_layout.addWidget(self.form)
        form_layout.addWidget(self.transfer)
        form_layout.addWidget(self.preview)
        form_layout.addStretch(1)
        scroll = self._scroll = QScrollArea()
        scroll.setWidget(form_box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left = QWidget()  # the buttons stay in view below the scrolling form
        # as wide as the form needs beside its scroll bar: nothing of a field is cut off
        left.setMinimumWidth(form_box.minimumSizeHint().width()
                             + scroll.verticalScrollBar().sizeHint().width())
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self.tensorboard)
        left_layout.addWidget(self.run_on)
        left_layout.addLayout(buttons)
        left_layout.addWidget(self.resume_button)

        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.status = StatusLine("Ready. Choose data and a model, then press Start.")
        self.status.setObjectName("trainStatus")
        self.plots = TrainingPlots()
        self.log = LogView(max_lines=5000)
        self.log.setPlaceholderText("Training log")
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.plots)
        right_split.addWidget(self.log)
        right_split.setStretchFactor(0, 3)
        right_split.setStretchFactor(1, 1)
        right_split.setSizes([420, 150])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.status)
        right_layout.addWidget(self.progress)
        right_layout.addWidget(right_split, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([left.minimumWidth(), 780])
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Train", "Training runs in the background: the window "
                                             "stays usable, and Stop keeps the best model."))
        layout.addWidget(splitter, 1)

    # --- form -------------------------------------------------------------------------------

    @Slot()
    def _on_form_edited(self) -> None:
        if self.form.problem() is None:  # an invalid field keeps the last valid recipe
            self.state.set_train(self.form.config())
            self._show_defaults()
        self._update_start()

    @Slot()
    def _on_transfer_edited(self) -> None:
        self.state.set_transfer(self.transfer.config())
        self._show_defaults()  # adaptation runs have no head-only stage
        self._update_start()

    @Slot()
    def _show_defaults(self) -> None:
        config = self.state.config
        self.form.show_defaults(config.resolved().train)
        self.form.set_strategy(config.model.strategy)
        self._update_preview()

    @Slot()
    def _on_augment_chosen(self, *_: object) -> None:
        self._scroll.ensureWidgetVisible(self.preview)  # the preview sits below the form

    @Slot()
    def _update_preview(self) -> None:
        """Redraw the augmentation preview for the first training image (not while training:
        the preview draws from the same random generator)."""
        scan = self.state.scan
        if self.state.engine is None or self.running:
            return
        if scan is None or not scan.samples:
            self.preview.show_for(None)
            return
        config = self.state.config.resolved()
        self.preview.show_for(PreviewRequest(scan.samples[0].path, config.model.backbone,
                                             config.train.image_size,
                                             config.train.augment or "none"))

    @Slot()
    def _on_project_loaded(self) -> None:
        run = self.state.run_dir
        if run and not self.running:  # the last run's curves and log, as they were
            self.run_dir = run
            self.past = PastRun(self.live, run)
        self.form.set_config(self.state.config.train)
        self.transfer.set_config(self.state.config.transfer)
        self._show_defaults()
        self._update_start()
        self._update_resume()

    @Slot()
    def _update_start(self, *_: object) -> None:
        """Start waits for other training (a comparison too) to end and for every field to be
        valid."""
        problem = self._form_problem()
        self.start_button.setEnabled(not (self.state.training or self.running or problem))
        self.start_button.setToolTip(f"Correct the form first. {problem}" if problem else "")
        if not self.running:  # while a field is invalid the status says why Start is off
            self.status.show_problem(problem and f"Start is disabled: {problem}",
                                     "Correct the field to start.")

    def _form_problem(self) -> str | None:
        return self.form.problem() or self.transfer.problem()

    @Slot()
    def _on_engine_ready(self) -> None:
        self.form.set_cuda_available(bool(self.state.engine and self.state.engine.cuda))
        self.run_on.set_gpus(self.state.engine.gpus if self.state.engine else 0)
        self._update_preview()

    # --- starting and stopping --------------------------------------------------------------

    @Slot()
    def find_lr(self) -> None:
        """Open the learning-rate finder and start its sweep with the current settings."""
        problem = self.state.training_problem() or self._form_problem()
        if problem:
            show_error(self, "Cannot find a learning rate", problem)
            return
        if self.lr_dialog is None:
            self.lr_dialog = LRFinderDialog(self)
            self.lr_dialog.rate_chosen.connect(self._on_rate_chosen)
        self.state.set_train(self.form.config())
        self.lr_dialog.start(self.state.config, self.state.scan)
        self.lr_dialog.open()

    @Slot(float)
    def _on_rate_chosen(self, rate: float) -> None:
        self.form.lr.setText(f"{rate:.3g}")
        self.log.appendPlainText(f"learning rate set to {rate:.3g} (from the finder)")

    @Slot()
    def start(self) -> None:
        problem = self.state.training_problem() or self._form_problem()
        if problem:
            show_error(self, "Cannot start training", problem)
            return
        self.state.set_train(self.form.config())
        config = self.state.config
        out = new_run_dir(self.state.project, config.model.backbone, config.model.strategy)
        if self.run_on.choice() != HERE:
            self._start_elsewhere(config, str(out))
            return
        logs = self.tensorboard.log_dir(str(out))
        scan = self.state.scan
        self.plots.set_loss_name(texts.loss_name(scan.tasks if scan is not None else None))
        self._launch(partial(_fit, config, str(out), False, self.state.scan, logs), str(out))
        self.log.appendPlainText(f"— new run in {out}")

    @Slot()
    def resume(self) -> None:
        run = self.state.run_dir
        if not run:
            return
        from ...core import resume_config

        try:
            config = resume_config(run)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            show_error(self, "Cannot resume", str(exc))
            return
        self._launch(partial(_fit, config, run, True, None, self.tensorboard.log_dir(run)), run)
        self.log.appendPlainText(f"— resuming {run}")

    def _launch(self, fn: partial, run_dir: str) -> None:
        if self.past is not None:
            self.past.stop()  # a reopened run still being drawn
        self.run_dir = run_dir
        self.live.reset()
        task = start_job(fn, "train", self)
        task.events.connect(self._on_events)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.done.connect(self._on_done)
        self.task = task
        self.start_button.setEnabled(False)
        self.resume_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.stop_button.setText("Stop")
        self.status.setText("Preparing: checking images and building the network…")
        self.progress.setRange(0, 0)
        self.state.set_training(True)

    def _start_elsewhere(self, config: RunConfig, out: str) -> None:
        """All GPUs: torchrun here, followed in a watch window. A cluster: the script."""
        if self.run_on.choice() == CLUSTER:
            dialog = ClusterDialog(out, self)
            if dialog.exec():
                written = write_for_cluster(config, out, *dialog.chosen())
                self.log.appendPlainText(f"— wrote {written.script} and {written.config}")
                QMessageBox.information(self, "Launch script written",
                                        f"{written.script}\n\n{written.next_step}")
            return
        self.run_dir = out
        launch = self.elsewhere = LocalLaunch(config, out, self.run_on.gpus, self)
        launch.output.connect(self.log.appendPlainText)
        launch.finished.connect(self._on_elsewhere_done)
        launch.failed.connect(self._on_elsewhere_failed)
        launch.start()
        if self.elsewhere is None:  # it failed to start, and said so
            return
        self.log.appendPlainText(f"— new run in {out} on {self.run_on.gpus} GPUs: "
                                 + " ".join(launch.command))
        self.status.setText(f"Training on {self.run_on.gpus} GPUs in a separate process; its "
                            "window follows the run folder.")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.state.set_training(True)
        self.watch_requested.emit(out)

    @Slot(str)
    def _on_elsewhere_failed(self, message: str) -> None:
        """torchrun never started: the page leaves "training" and says why."""
        self.elsewhere = None
        self.log.appendPlainText(f"error: {message}")
        self.status.setText("Could not start training on the GPUs; see the log.")
        self._on_done()
        show_error(self, "Cannot start training", message)
        self.run_failed.emit(message)

    @Slot(int)
    def _on_elsewhere_done(self, code: int) -> None:
        self.elsewhere = None
        self.log.appendPlainText(f"— torchrun ended (exit status {code})")
        if code not in (0, 130):
            self.status.setText(f"Training on the GPUs failed (exit status {code}); the "
                                "failing process's message is in the log.")
        self._on_done()
        if can_resume(self.run_dir) or code == 0:
            self.state.run_trained(self.run_dir)
            self.run_finished.emit(self.run_dir, "completed" if code == 0 else "cancelled")

    @Slot()
    def stop(self) -> None:
        if self.elsewhere is not None and self.elsewhere.running:
            self.elsewhere.stop()
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping every process after the current batch…")
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
            self.stop_button.setEnabled(False)
            self.stop_button.setText("Stopping…")
            self.status.setText("Stopping after the current batch…")

    @property
    def running(self) -> bool:
        return (self.task is not None and self.task.running) or self.elsewhere is not None

    # --- events -----------------------------------------------------------------------------

    @Slot(list)
    def _on_events(self, events: list) -> None:
        self.live.feed(events, time.monotonic())

    def _replay(self) -> None:
        self.plots.replay(self.run_dir)

    @property
    def _steps_per_epoch(self) -> int:
        return self.live.steps_per_epoch

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        status = getattr(result, "status", "completed")
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if status == "completed" else 0)
        self.state.set_training(False)
        self.state.run_trained(self.run_dir)
        self.run_finished.emit(self.run_dir, status)

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.log.appendPlainText(f"error: {message}")
        error = self.task.error if self.task is not None else None
        title, where, kept = texts.failure_words(error, self.run_dir)
        texts.remove_if_empty(self.run_dir)  # refused before writing: no empty run folder
        self.status.setText(f"{title}; see the log.")
        self.state.set_training(False)
        if kept:
            self.state.run_trained(self.run_dir)
        show_error(self, title, message + where, details)
        self.run_failed.emit(message)

    @Slot()
    def _on_done(self) -> None:
        self.stop_button.setEnabled(False)
        self.stop_button.setText("Stop")
        self.state.set_training(False)
        self._update_start()
        self._update_resume()

    def _update_resume(self) -> None:
        run = self.state.run_dir
        self.resume_button.setEnabled(bool(run) and not self.running and can_resume(run))


def _fit(config: RunConfig, out: str, resume: bool, scan: FolderScan | None,
         tensorboard: str | None, callbacks: list, cancel: CancelToken) -> object:
    from ...core import Trainer

    return Trainer().fit(config, out, callbacks, cancel, resume=resume,
                         scan=scan, tensorboard=tensorboard)
