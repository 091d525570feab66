"""Step 2, Model: the backbone, its weights, and exactly which layers train."""

from __future__ import annotations

import dataclasses
import os
from functools import partial

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ...core import (
    CLASSIC_STRATEGIES,
    NO_NETWORK,
    ModelConfig,
    ModelLayout,
    Selection,
    fine_tune_words,
    select,
)
from ..engine_loader import BackboneRow, check_weights, describe_structure, measure
from ..state import AppState
from ..widgets.inputs.preset_bar import PresetBar
from ..widgets.notices.banner import Banner
from ..widgets.notices.dialogs import show_error
from ..widgets.notices.download_bar import DownloadBar
from ..widgets.notices.probe_advice import ProbeAdvice
from ..widgets.tables.layer_tree import LayerTreeView
from ..widgets.tables.zoo_picker import ZooPicker
from ..worker import Job, start_job
from . import model_texts as texts
from .common import page_title
from .model_jobs import online, run_classes


class ModelPage(QWidget):
    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.structure: ModelLayout | None = None  # the network described, no weights
        self.build_task: Job | None = None
        self.online_task: Job | None = None
        self.speed_task: Job | None = None
        self.weights_task: Job | None = None  # checking a weights file the user chose
        self._rows: list[BackboneRow] = []
        self._pending_selectors: tuple[str, ...] | None = None
        self._building: tuple[str, int] | None = None  # (backbone, classes) being built
        self._build()
        state.engine_ready.connect(self._on_engine_ready)
        state.project_loaded.connect(self._on_project_loaded)
        state.scan_changed.connect(self._follow_classes)
        state.run_changed.connect(self._on_run_changed)
        state.data_changed.connect(self._on_run_changed)

    # --- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.picker = ZooPicker()
        self.picker.chosen.connect(self._on_backbone_selected)
        self.description = QLabel("Loading the networks…")
        self.description.setWordWrap(True)
        self.weights_label = QLabel("Weights: pretrained on ImageNet")
        self.weights_label.setWordWrap(True)
        self.weights_banner = Banner()  # weights that cannot be had offline
        self.advice = ProbeAdvice()
        self.load_weights = QPushButton("Load weights from file…")
        self.load_weights.setToolTip("Start from your own weights for this backbone (a state "
                                     "dict, .pth or .safetensors), e.g. from an earlier run")
        self.load_weights.clicked.connect(self._on_load_weights)
        self.clear_weights = QPushButton("Use pretrained")
        self.clear_weights.setToolTip("Forget the weights file: start from the ImageNet "
                                      "weights again")
        self.clear_weights.clicked.connect(self._on_clear_weights)
        self.clear_weights.setEnabled(False)
        self.measure = QPushButton("Measure speed")
        self.measure.setToolTip("Time a short forward pass of the selected model on this "
                                "computer (images per second, remembered)")
        self.measure.clicked.connect(self._on_measure)
        self.download = DownloadBar()
        self.download.fetched.connect(self._on_fetched)
        self.download.refused.connect(self._on_refused)
        buttons = QHBoxLayout()
        buttons.addWidget(self.load_weights)
        buttons.addWidget(self.clear_weights)
        buttons.addWidget(self.measure)
        buttons.addStretch(1)
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.picker, 1)
        column.addWidget(self.description)
        column.addWidget(self.weights_label)
        column.addWidget(self.weights_banner)
        column.addLayout(buttons)
        column.addWidget(self.download)
        column.addWidget(self.advice)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self._build_tree_side())
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([520, 560])
        layout = QVBoxLayout(self)
        layout.addWidget(page_title("Model", "Search the pretrained networks (torchvision and "
                                             "timm) and tick the layers that train. Checked = "
                                             "trainable."))
        layout.addWidget(splitter, 1)

    def _build_tree_side(self) -> QWidget:
        box = QGroupBox("What trains")
        self.presets = PresetBar()
        self.presets.preset_chosen.connect(self.apply_preset)
        self.presets.unfreeze_changed.connect(self._on_unfreeze_changed)
        self.preset_buttons = self.presets.buttons
        self.unfreeze = self.presets.unfreeze
        self.summary = QLabel("")
        self.summary.setObjectName("trainableSummary")
        self.summary.setWordWrap(True)
        self.scratch_warning = QLabel("")
        self.scratch_warning.setObjectName("errorText")
        self.scratch_warning.setWordWrap(True)
        self.scratch_warning.setVisible(False)
        self.tree = LayerTreeView()
        self.tree.tree_model.trainable_changed.connect(self._on_trainable_changed)
        layout = QVBoxLayout(box)
        layout.addWidget(self.presets)
        layout.addWidget(self.summary)
        layout.addWidget(self.scratch_warning)
        layout.addWidget(self.tree, 1)
        return box

    @Slot()
    def _on_run_changed(self, *_: object) -> None:
        self.advice.show_for(self.state.run_dir, self.state.config.data.root)

    # --- backbones --------------------------------------------------------------------------

    @Slot()
    def _on_engine_ready(self) -> None:
        self._rows = list(self.state.engine.backbones)
        self.picker.set_rows(self._rows)
        self.select_backbone(self.state.config.model.backbone)

    def select_backbone(self, name: str) -> None:
        if not self.picker.select(name) and self._rows:
            self.picker.select(self._rows[0].name)

    def current_row(self) -> BackboneRow | None:
        return self.picker.current()

    @Slot()
    def _on_backbone_selected(self, *_: object) -> None:
        info = self.current_row()
        if info is None:
            return
        self.description.setText(texts.backbone_facts(info, self.structure))
        model = self.state.config.model
        if model.backbone != info.name:
            self._pending_selectors = None
            self.state.set_model(dataclasses.replace(model, backbone=info.name,
                                                     weights_file=None, trainable=None))
        self._show_weights()
        self._build_structure(info.name)

    def _num_classes(self) -> int:
        """The project's class count: the scanned folder's; before a scan (or with the folder
        gone) the last run's; else 2."""
        scan = self.state.scan
        if scan is not None and scan.classes:
            return max(len(scan.classes), 2)
        return max(run_classes(self.state.project.last_run), 2)

    def _built(self) -> tuple[str, int] | None:
        structure = self.structure
        return (structure.backbone, structure.num_classes) if structure else None

    def _build_structure(self, backbone: str) -> None:
        wanted = (backbone, self._num_classes())
        if wanted in (self._built(), self._building):
            return
        self._building = wanted
        self.tree.setEnabled(False)
        self.summary.setText("Building the network…")
        task = start_job(partial(describe_structure, *wanted), "model", self)
        task.succeeded.connect(partial(self._on_structure_built, task))
        task.failed.connect(partial(self._on_structure_failed, task))
        self.build_task = task

    def _on_structure_built(self, task: Job, structure: ModelLayout | str) -> None:
        if task is not self.build_task:
            return
        self._building = None
        if isinstance(structure, str):  # listed, but its layer groups are not known here
            self.summary.setText(structure)
            return
        self.structure = structure
        model = self.state.config.model
        selectors = self._pending_selectors if self._pending_selectors is not None \
            else model.trainable
        self._pending_selectors = None
        chosen = select(structure, model.strategy, model.unfreeze, selectors)
        self.tree.tree_model.load(structure, chosen.names)
        info = self.current_row()
        if info is not None:
            self.description.setText(texts.backbone_facts(info, structure))
        self.tree.setEnabled(True)
        self.unfreeze.setMaximum(max(1, len(structure.groups) - 1))
        self._check_preset(model.strategy)
        self._sync_trainable(edited=False)  # what the project implies: no change of the user's
        self._follow_classes()  # the classes changed while it was being built

    def _on_structure_failed(self, task: Job, message: str, details: str) -> None:
        if task is self.build_task:
            self._building = None
            self.structure = None  # picking the network built before builds it again
            self.tree.tree_model.clear()
            self.summary.setText("The network could not be built.")
            show_error(self, "Cannot build the network", message, details)

    # --- weights ----------------------------------------------------------------------------

    def _show_weights(self) -> None:
        info = self.current_row()
        path = self.state.config.model.weights_file
        if path:
            self.weights_label.setText(f"Weights: <b>{os.path.basename(path)}</b> (from file)")
        elif info is not None:
            tip = texts.WEIGHTS_TIP.get(info.weights, info.weights)
            self.weights_label.setText(f"Weights: ImageNet ({tip.lower()})")
        self.clear_weights.setEnabled(bool(path))
        self.weights_banner.clear_message()
        if info is not None:
            self.download.show_for(info.name, "" if path else info.weights)
        if info is not None and info.weights == "download" and not path:
            task = start_job(partial(online, info.name), "online", self)
            task.succeeded.connect(partial(self._on_online_checked, task, info))
            self.online_task = task

    def _on_online_checked(self, task: Job, info: BackboneRow, online: object) -> None:
        if task is not self.online_task or online or self.current_row() != info:
            return
        self._on_refused(info.name, NO_NETWORK)

    def _on_refused(self, name: str, why: str) -> None:
        info = self.current_row()
        if info is not None and info.name == name:
            self.weights_banner.show_message(why, "warning")

    def _on_fetched(self, name: str) -> None:
        self.picker.update_row(name, weights="cached")
        self._rows = self.picker.rows()
        self._show_weights()

    @Slot()
    def _on_measure(self) -> None:
        info = self.current_row()
        if info is None:
            return
        self.measure.setEnabled(False)
        self.measure.setText(f"Timing {info.title}…")
        task = start_job(partial(measure, info.name), "speed", self)
        task.succeeded.connect(partial(self._on_measured, info.name))
        task.failed.connect(partial(self._on_measure_failed, info.name))
        self.speed_task = task

    def _on_measured(self, name: str, rate: object) -> None:
        self.measure.setEnabled(True)
        self.measure.setText("Measure speed")
        self.picker.update_row(name, speed=float(rate))  # type: ignore[arg-type]
        self._rows = self.picker.rows()
        info = self.current_row()
        if info is not None and info.name == name:
            self.description.setText(texts.backbone_facts(info, self.structure))

    def _on_measure_failed(self, name: str, message: str, details: str) -> None:
        self.measure.setEnabled(True)
        self.measure.setText("Measure speed")
        show_error(self, f"Cannot time {name}", message, details)

    @Slot()
    def _on_load_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load weights", os.path.expanduser("~"),
            "Weights (*.pth *.pt *.bin *.safetensors);;All files (*)")
        info = self.current_row()
        if path and info is not None:
            self.load_weights.setEnabled(False)
            self.weights_label.setText(f"Checking {os.path.basename(path)}…")
            task = start_job(partial(check_weights, info.name, path, self._num_classes()),
                              "weights", self)
            task.succeeded.connect(partial(self._on_weights_checked, task, info.name))
            task.failed.connect(partial(self._on_weights_refused, task, path))
            self.weights_task = task

    def _on_weights_checked(self, task: Job, backbone: str, path: str) -> None:
        """The file fits the network: it becomes the project's starting point."""
        self.load_weights.setEnabled(True)
        model = self.state.config.model
        if task is self.weights_task and model.backbone == backbone:
            self.state.set_model(dataclasses.replace(model, weights_file=path))
        self._show_weights()

    def _on_weights_refused(self, task: Job, path: str, message: str, details: str) -> None:
        self.load_weights.setEnabled(True)
        self._show_weights()
        if task is self.weights_task:
            show_error(self, f"Cannot use {os.path.basename(path)}", message, details)

    @Slot()
    def _on_clear_weights(self) -> None:
        model = self.state.config.model
        self.state.set_model(dataclasses.replace(model, weights_file=None))
        self._show_weights()

    # --- what trains ------------------------------------------------------------------------

    def apply_preset(self, strategy: str, *_: object) -> None:
        if self.structure is None:
            return
        self._check_preset(strategy)
        names = select(self.structure, strategy, self.presets.unfreeze_value()).names
        model = self.state.config.model
        self.state.set_model(dataclasses.replace(model, strategy=strategy,
                                                 unfreeze=self.presets.unfreeze_value()))
        self.tree.tree_model.set_trainable(names)

    def _check_preset(self, strategy: str) -> None:
        self.presets.check(strategy)
        # a classic head is fitted on frozen features: there is nothing to tick
        self.tree.set_locked(strategy in CLASSIC_STRATEGIES)

    @Slot(int)
    def _on_unfreeze_changed(self, _value: int) -> None:
        if self.state.config.model.strategy == "fine-tune":
            self.apply_preset("fine-tune")

    @Slot()
    def _on_trainable_changed(self) -> None:
        self._sync_trainable(edited=True)

    def _sync_trainable(self, edited: bool) -> None:
        if self.structure is None:
            return
        model = self.state.config.model
        chosen = select(self.structure, model.strategy, model.unfreeze,
                        self.tree.tree_model.trainable)
        self.state.set_model(dataclasses.replace(model, trainable=chosen.selectors,
                                                 backbone=self.structure.backbone), edited)
        self._show_summary(chosen)

    def _show_summary(self, chosen: Selection) -> None:
        """A preset is highlighted only while the tree is exactly that preset."""
        strategy = self.state.config.model.strategy
        self.presets.check(strategy if chosen.is_preset else "")
        custom = "" if chosen.is_preset else "<b>Custom</b> (no preset matches) · "
        top = (fine_tune_words(self.structure, self.state.config.model.unfreeze)
               if strategy == "fine-tune" and chosen.is_preset and self.structure else "")
        self.summary.setText(custom + texts.summary_text(chosen, strategy, top))
        warning = texts.scratch_warning(chosen, strategy)
        self.scratch_warning.setText(warning)
        self.scratch_warning.setVisible(bool(warning))

    def model_config(self) -> ModelConfig:
        return self.state.config.model

    # --- project and data -------------------------------------------------------------------

    @Slot()
    def _on_project_loaded(self) -> None:
        model = self.state.config.model
        self._pending_selectors = model.trainable
        self.presets.set_unfreeze(model.unfreeze)
        self.structure = None
        if self._rows:
            self.picker.view.clearSelection()
            self.select_backbone(model.backbone)

    @Slot()
    def _follow_classes(self) -> None:
        """The head's size follows the class count (the scan may come before or after the
        network is built): rebuild so the tree shows exactly what trains."""
        current = self._building or self._built()
        if current is None or (current[0], self._num_classes()) in (self._built(),
                                                                     self._building):
            return
        if self._building is None:  # else the pending build's selection still applies
            self._pending_selectors = self.state.config.model.trainable
        self._build_structure(current[0])
