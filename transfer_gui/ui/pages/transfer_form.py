"""The Transfer section of the Train page: joint training with a labelled source folder, or
domain adaptation towards a folder of unlabelled target images, mapped to `TransferConfig`.

A mode that needs a folder asks for it when chosen; cancelling the chooser keeps the previous
mode, so the form always holds a valid configuration.
"""

from __future__ import annotations

import dataclasses
import os

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QLabel,
    QWidget,
)

from ...core import TransferConfig
from ..widgets.folder_field import FolderField

MODES = (
    ("none", "None: this folder only"),
    ("joint", "Joint training"),
    ("dann", "Domain adaptation: DANN"),
    ("coral", "Domain adaptation: CORAL"),
)
HELP = {
    "none": "Train on the data folder alone.",
    "joint": "A labelled source folder (same classes) trains along with the data folder: "
             "loss = a × source + b × target, validated on the data folder.",
    "dann": "The data folder is the labelled source; the target folder holds unlabelled "
            "images of the new domain. A domain classifier behind gradient reversal aligns "
            "their features (DANN).",
    "coral": "The data folder is the labelled source; the target folder holds unlabelled "
             "images of the new domain. Deep CORAL matches their feature covariances.",
}
FOLDER_FOR = {"joint": "source_dir", "dann": "target_dir", "coral": "target_dir"}
CHOOSER_TITLE = {"source_dir": "Labelled source folder (one sub-folder per class)",
                 "target_dir": "Folder of unlabelled target images"}


def _weight(tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(0.0, 100.0)
    spin.setDecimals(2)
    spin.setSingleStep(0.1)
    spin.setValue(1.0)
    spin.setToolTip(tip)
    return spin


class TransferForm(QGroupBox):
    """Emits `edited` when the configuration changes; `config()` gives the `TransferConfig`."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Transfer", parent)
        self._config = TransferConfig()
        self.mode = QComboBox()
        for value, text in MODES:
            self.mode.addItem(text, value)
        self.help = QLabel(HELP["none"])
        self.help.setWordWrap(True)
        self.help.setObjectName("pageSubtitle")
        self.mode.setToolTip("Train on the data folder alone, together with a second labelled "
                             "folder, or adapt to a folder of unlabelled images")
        self.source = FolderField()
        self.source.setToolTip("A labelled folder (one sub-folder per class, the same classes) "
                               "that trains along with the data folder")
        self.target = FolderField()
        self.target.setToolTip("Unlabelled images of the domain the model will be used on")
        self.source_weight = _weight("a: the weight of the source folder's loss")
        self.target_weight = _weight("b: the weight of the data folder's loss")
        self.adapt_weight = _weight("The weight of the domain-adaptation loss")
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.addRow("Mode", self.mode)
        self.form.addRow(self.help)  # the whole width: fewer lines
        for label, widget in (("Source folder", self.source), ("Target folder", self.target),
                              ("Source weight a", self.source_weight),
                              ("Target weight b", self.target_weight),
                              ("Adaptation weight", self.adapt_weight)):
            self.form.addRow(label, widget)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.source.choose_clicked.connect(self._on_source_clicked)
        self.target.choose_clicked.connect(self._on_target_clicked)
        for spin in (self.source_weight, self.target_weight, self.adapt_weight):
            spin.valueChanged.connect(self._on_weight_changed)
        self._show(self._config)

    # --- the configuration ------------------------------------------------------------------

    def config(self) -> TransferConfig:
        return self._config

    def set_config(self, config: TransferConfig) -> None:
        self._config = config
        self._show(config)

    def _show(self, config: TransferConfig) -> None:
        widgets = (self.mode, self.source_weight, self.target_weight, self.adapt_weight)
        for widget in widgets:
            widget.blockSignals(True)
        self.mode.setCurrentIndex(max(self.mode.findData(config.mode), 0))
        self.source_weight.setValue(config.source_weight)
        self.target_weight.setValue(config.target_weight)
        self.adapt_weight.setValue(config.adapt_weight)
        for widget in widgets:
            widget.blockSignals(False)
        self.source.set_path(config.source_dir)
        self.target.set_path(config.target_dir)
        self._show_rows(config.mode)

    def _show_rows(self, mode: str) -> None:
        """Only the fields the mode uses are shown."""
        self.help.setText(HELP[mode])
        visible = {self.source: mode == "joint", self.source_weight: mode == "joint",
                   self.target_weight: mode == "joint",
                   self.target: mode in ("dann", "coral"),
                   self.adapt_weight: mode in ("dann", "coral")}
        for widget, shown in visible.items():
            self.form.setRowVisible(widget, shown)

    def _update(self, **changes: object) -> None:
        config = dataclasses.replace(self._config, **changes)
        if config != self._config:
            self._config = config
            self.edited.emit()

    # --- slots ------------------------------------------------------------------------------

    @Slot(int)
    def _on_mode_changed(self, _index: int) -> None:
        mode = self.mode.currentData()
        field = FOLDER_FOR.get(mode)
        changes: dict[str, object] = {"mode": mode}
        if field and not getattr(self._config, field):
            path = self._choose(field)
            if not path:
                self._show(self._config)  # no folder, no mode: back to the previous one
                return
            changes[field] = path
        self._update(**changes)
        self._show(self._config)

    @Slot()
    def _on_source_clicked(self) -> None:
        self._choose_into("source_dir")

    @Slot()
    def _on_target_clicked(self) -> None:
        self._choose_into("target_dir")

    def _choose_into(self, field: str) -> None:
        path = self._choose(field)
        if path:
            self._update(**{field: path})
            self._show(self._config)

    def _choose(self, field: str) -> str:
        start = getattr(self._config, field) or os.path.expanduser("~")
        return QFileDialog.getExistingDirectory(self, CHOOSER_TITLE[field], start)

    @Slot()
    def _on_weight_changed(self, *_: object) -> None:
        self._update(source_weight=self.source_weight.value(),
                     target_weight=self.target_weight.value(),
                     adapt_weight=self.adapt_weight.value())
