"""The application's shared state: the project being edited, the scanned data, the current run.

Pages never talk to each other; each edits its part of the state and listens to the signals
of the parts it depends on. Every setter that changes a part emits that part's signal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..core import (
    DataConfig,
    FolderScan,
    ModelConfig,
    Project,
    RunConfig,
    TrainConfig,
    TransferConfig,
)


class AppState(QObject):
    project_loaded = Signal()  # a whole project replaced the state: pages refresh their forms
    data_changed = Signal()  # data folder or split settings
    scan_changed = Signal()  # a new scan result (or None)
    model_changed = Signal()  # backbone, weights or freezing
    train_changed = Signal()  # the training recipe
    transfer_changed = Signal()  # the second folder (joint training or adaptation)
    run_changed = Signal(str)  # the current trained run ("" for none)
    run_updated = Signal(str)  # a run's weights or status changed (trained, resumed, stopped)
    runs_changed = Signal()  # runs joined the project (or a project was loaded)
    busy_changed = Signal(bool)  # training running or not
    status_message = Signal(str)
    modified_changed = Signal(bool)
    engine_ready = Signal()  # torch imported; backbone list and device known

    def __init__(self) -> None:
        super().__init__()
        self.project = Project()
        self.scan: FolderScan | None = None
        self.run_dir: str = ""
        self.training = False
        self.modified = False
        self.engine: Any = None  # ui.engine_loader.EngineInfo once torch is loaded
        self.closing = False  # the window is closing: start no new background work
        # called before any part changes (the window builds the pages it has not built yet,
        # so that every page hears every change); None once that is done
        self.before_change: Callable[[], None] | None = None

    def _changing(self) -> None:
        if self.before_change is not None:
            self.before_change()

    # --- configuration parts ------------------------------------------------------------------

    @property
    def config(self) -> RunConfig:
        return self.project.config

    def set_data(self, data: DataConfig) -> None:
        self._changing()
        if data != self.config.data:
            self._replace(data=data)
            self.data_changed.emit()

    def set_model(self, model: ModelConfig, edited: bool = True) -> None:
        """`edited=False`: a page filled in what the project implies (the layer selection of a
        preset, once the network is built); that is no change of the user's to save."""
        self._changing()
        if model != self.config.model:
            self._replace(edited, model=model)
            self.model_changed.emit()

    def set_train(self, train: TrainConfig) -> None:
        self._changing()
        if train != self.config.train:
            self._replace(train=train)
            self.train_changed.emit()

    def set_transfer(self, transfer: TransferConfig) -> None:
        self._changing()
        if transfer != self.config.transfer:
            self._replace(transfer=transfer)
            self.transfer_changed.emit()

    def set_extra(self, key: str, value: object) -> None:
        """A choice of the window's kept with the project (not part of the recipe)."""
        if self.project.extra.get(key) != value:
            self.project.extra[key] = value
            self.set_modified(True)

    def _replace(self, edited: bool = True, **parts: Any) -> None:
        self.project.config = dataclasses.replace(self.project.config, **parts)
        if edited:
            self.set_modified(True)

    def set_modified(self, modified: bool) -> None:
        if modified != self.modified:
            self.modified = modified
            self.modified_changed.emit(modified)

    # --- results ------------------------------------------------------------------------------

    def set_scan(self, scan: FolderScan | None) -> None:
        self._changing()
        self.scan = scan
        self.scan_changed.emit()

    def set_run(self, run_dir: str) -> None:
        self._changing()
        self.run_dir = run_dir
        if run_dir:
            known = run_dir in self.project.runs
            self.project.add_run(run_dir)
            self.set_modified(True)
            if not known:
                self.runs_changed.emit()
        self.run_changed.emit(run_dir)

    def run_trained(self, run_dir: str) -> None:
        """Training wrote `run_dir` (a new run, or one resumed): pages that show it drop what
        they computed from its old files, then it becomes the current run."""
        self._changing()
        self.run_updated.emit(run_dir)
        self.set_run(run_dir)

    def add_runs(self, run_dirs: list[str]) -> None:
        """Runs join the project without becoming the current run (a comparison's runs)."""
        self._changing()
        new = [r for r in run_dirs if r not in self.project.runs]
        if new:
            self.project.runs.extend(new)
            self.set_modified(True)
            self.runs_changed.emit()

    def set_training(self, training: bool) -> None:
        self._changing()
        if training != self.training:
            self.training = training
            self.busy_changed.emit(training)

    def training_problem(self) -> str | None:
        """Why training cannot start now, or None."""
        scan = self.scan
        if not self.config.data.root or scan is None:
            return "Choose an image folder on the Data page first."
        if sum(1 for c in scan.counts() if c) < 2:
            return "The data folder needs at least two classes with images."
        if self.engine is None:
            return "The engine is still loading; try again in a moment."
        if self.training:
            return "Training is already running; stop it first."
        return None

    def set_engine(self, info: Any) -> None:
        self._changing()
        self.engine = info
        self.engine_ready.emit()

    def load_project(self, project: Project) -> None:
        self._changing()
        self.project = project
        self.scan = None
        self.run_dir = project.last_run or ""
        self.modified = False
        self.project_loaded.emit()
        self.modified_changed.emit(False)
        self.runs_changed.emit()
        self.run_changed.emit(self.run_dir)
