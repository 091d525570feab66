"""The Transfer section of the Train page: joint training with a labelled source folder, or
domain adaptation towards a folder of unlabelled target images, made from `TransferConfig`'s
declared settings (labels, tooltips, ranges and the modes' words).

A mode that needs a folder asks for it when chosen; cancelling the chooser keeps the previous
mode, so the form always holds a valid configuration.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QComboBox, QFileDialog, QFormLayout, QGroupBox, QLabel, QWidget

from ...core import ADAPT_NAMES, AUTO_ADAPT, TransferConfig, options_of
from ..widgets.inputs.folder_field import FolderField
from ..widgets.inputs.option_fields import make_fields, problems_of, widget_of

_TARGET = ("The data folder is the labelled source; the target folder holds unlabelled images "
           "of the new domain. ")
_STATS = ("No training beyond the source's: seconds, from the feature cache. Works with every "
          "strategy, the classic heads included.")
HELP = {
    "none": "Train on the data folder alone.",
    "joint": "A labelled source folder (same classes) trains along with the data folder: "
             "loss = a × source + b × target, validated on the data folder.",
    "auto": _TARGET + "Auto: the adaptation benchmark's choice, {auto}. Target class "
            "sub-folders give the target accuracy before and after.",
    "align": _TARGET + "Feature alignment: each domain's features are standardised with its "
             "own mean and variance (no target labels). " + _STATS,
    "adabn": _TARGET + "AdaBN: BatchNorm's running statistics are re-estimated on the target "
             "images; every weight stays. Networks without BatchNorm (ViT, ConvNeXt): use "
             "alignment. " + _STATS,
    "adabn+align": _TARGET + "AdaBN, then feature alignment. " + _STATS,
    "dann": _TARGET + "A domain classifier behind gradient reversal aligns their features "
            "(DANN), starting from the probe. {cost}",
    "coral": _TARGET + "Deep CORAL matches their feature covariances, starting from the probe. "
             "{cost}",
    "dann+align": _TARGET + "DANN, then feature alignment. {cost}",
    "coral+align": _TARGET + "CORAL, then feature alignment. {cost}",
}
# measured on the adaptation benchmark (tests/bench/BENCHMARKS.md, "Domain adaptation")
COST = ("Each step runs a source and a target batch through the network: on a CPU a step "
        "takes {ratio} the CPU time of a source-only step, and a run minutes where the "
        "statistics methods take seconds.")
DANN_CPU_RATIO = "1.5x (64 px) to 2.3x (112 px)"  # EfficientNet-Lite0, 1 group (the default)
ADAPT = tuple(m for m in HELP if m not in ("none", "joint"))
GRADIENT = tuple(m for m in ADAPT if m.split("+")[0] in ("dann", "coral") or m == "auto")
FOLDER_FOR = {"joint": "source_dir", **{m: "target_dir" for m in ADAPT}}
CHOOSER_TITLE = {"source_dir": "Labelled source folder (one sub-folder per class)",
                 "target_dir": "Folder of unlabelled target images"}
WEIGHTS = ("source_weight", "target_weight", "adapt_weight")
NUMBERS = (*WEIGHTS, "adapt_layers")  # the typed settings
USED_BY = {"source_dir": ("joint",), "source_weight": ("joint",), "target_weight": ("joint",),
           "target_dir": ADAPT, "adapt_weight": GRADIENT, "adapt_layers": GRADIENT}


def help_text(mode: str) -> str:
    return HELP[mode].format(auto=auto_words(), cost=COST.format(ratio=DANN_CPU_RATIO))


def auto_words() -> str:
    """What "auto" becomes, in words: one method for every strategy, or one per kind."""
    frozen, trained = (ADAPT_NAMES[AUTO_ADAPT[k]] for k in ("frozen", "trained"))
    if frozen == trained:
        return f"{frozen}, for a frozen backbone and when layers train alike"
    return f"{frozen} for a frozen backbone (linear probe, classic heads), {trained} when " \
           "layers train"


class TransferForm(QGroupBox):
    """Emits `edited` when the configuration changes; `config()` gives the `TransferConfig`."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Transfer", parent)
        self._config = TransferConfig()
        self.fields = make_fields(options_of(TransferConfig))
        self.help = QLabel(help_text("none"))
        self.help.setWordWrap(True)
        self.help.setObjectName("pageSubtitle")
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, field in self.fields.items():
            field.place(self.form)
            if name == "mode":
                self.form.addRow(self.help)  # the whole width: fewer lines
        self.mode = widget_of(self.fields["mode"], QComboBox)
        # the longest mode's words would widen the whole Train form once a folder row shows
        # its longer label: the box shows what fits, its list every word
        self.mode.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode.setMinimumContentsLength(18)
        self.source = widget_of(self.fields["source_dir"], FolderField)
        self.target = widget_of(self.fields["target_dir"], FolderField)
        self.source_weight, self.target_weight, self.adapt_weight = (
            self.fields[name].widget for name in WEIGHTS)
        self.mode.currentIndexChanged.connect(self._on_mode_changed)
        self.source.choose_clicked.connect(self._on_source_clicked)
        self.target.choose_clicked.connect(self._on_target_clicked)
        for name in NUMBERS:
            self.fields[name].changed.connect(self._on_weight_changed)
        self._show(self._config)

    # --- the configuration ------------------------------------------------------------------

    def config(self) -> TransferConfig:
        return self._config

    def set_config(self, config: TransferConfig) -> None:
        self._config = config
        self._show(config)

    def problem(self) -> str | None:
        """The first invalid field's message (a weight typed out of range), or None."""
        return next(iter(self._problems().values()), None)

    def _problems(self) -> dict[str, str]:
        return problems_of({n: self.fields[n] for n in NUMBERS})[1]

    def _show(self, config: TransferConfig) -> None:
        for field in self.fields.values():
            field.set_values(config)
        self._show_rows(config.mode)

    def _show_rows(self, mode: str) -> None:
        """Only the fields the mode uses are shown."""
        self.help.setText(help_text(mode))
        self.mode.setToolTip(help_text(mode))
        problems = self._problems()
        for name, modes in USED_BY.items():
            self.form.setRowVisible(self.fields[name].widget, mode in modes)
            self.fields[name].show_problem(problems.get(name) if mode in modes else None)

    def _update(self, **changes: Any) -> None:
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
    def _on_weight_changed(self) -> None:
        values, problems = problems_of({n: self.fields[n] for n in NUMBERS})
        self._show_rows(self._config.mode)
        if problems:
            self.edited.emit()  # the configuration stays; the page learns of the problem
        else:
            self._update(**values)
