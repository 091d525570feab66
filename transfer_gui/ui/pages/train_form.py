"""The hyperparameter form of the Train page, made from `TrainConfig`'s declared settings, and
the page's TensorBoard box.

Each setting becomes a field (its label, tooltip, range and words from the declaration), in
the dataclass's order. A field whose typed value is invalid says so under itself; the form
then has a `problem()` and `config()` refuses, rather than replacing anything by a default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ...core import CLASSIC_STRATEGIES, ConfigError, TrainConfig, options_of
from ..state import AppState
from ..widgets.inputs.option_fields import make_fields, problems_of, widget_of

CLASSIC_WORDS = {"epochs": "fitted once", "lr": "not used"}  # what "auto" is for a classic head
FIND_LR_TIP = "Train briefly with a rising rate and suggest where the loss falls fastest"
TENSORBOARD = "Log to TensorBoard"
TENSORBOARD_TIP = ("Also log each run's curves and its confusion matrix for TensorBoard: into "
                   "the tensorboard folder beside the project file (beside the runs folder "
                   "while the project is unsaved), one sub-folder per run")
TENSORBOARD_KEY = "tensorboard"  # the choice, kept with the project


class TensorBoardBox(QCheckBox):
    """Whether runs also log for TensorBoard: a run option kept with the project, not part of
    the recipe. Disabled, saying how to install it, when the tensorboard package is missing."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(TENSORBOARD, parent)
        self.state = state
        self.setToolTip(TENSORBOARD_TIP)
        self.toggled.connect(self._on_toggled)
        state.project_loaded.connect(self._show_choice)
        state.engine_ready.connect(self.check_available)

    @Slot()
    def check_available(self) -> None:
        """Enable the box when runs can log for TensorBoard (once the engine is loaded)."""
        from ...core import tensorboard_problem

        problem = tensorboard_problem()
        self.setEnabled(problem is None)
        self.setToolTip(problem or TENSORBOARD_TIP)

    @Slot(bool)
    def _on_toggled(self, checked: bool) -> None:
        self.state.set_extra(TENSORBOARD_KEY, checked)

    @Slot()
    def _show_choice(self) -> None:
        """The project's own choice: no edit of the user's."""
        self.blockSignals(True)
        self.setChecked(bool(self.state.project.extra.get(TENSORBOARD_KEY)))
        self.blockSignals(False)

    def log_dir(self, run_dir: str) -> str | None:
        """Where the run `run_dir` logs (None: the box is off or cannot be used)."""
        from ...core import tensorboard_folder

        if not (self.isEnabled() and self.isChecked()):
            return None
        return str(tensorboard_folder(self.state.project) / Path(run_dir).name)


class TrainForm(QGroupBox):
    """Emits `edited` whenever a value (or what is typed) changes; `config()` gives the
    `TrainConfig`."""

    edited = Signal()
    find_lr_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Hyperparameters", parent)
        self.fields = make_fields(options_of(TrainConfig))
        self._where = {f.option.off: name for name, f in self.fields.items() if f.option.off}
        self._base = TrainConfig()  # what the form does not show is kept from here
        self.find_lr = QPushButton("Find learning rate…")
        self.find_lr.setToolTip(FIND_LR_TIP)
        self.find_lr.clicked.connect(self.find_lr_requested)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, field in self.fields.items():
            setattr(self, name, field.widget)  # form.epochs, form.lr, ...
            field.place(form)
            if name == "lr":
                form.addRow("", self.find_lr)
            field.changed.connect(self._on_edited)
        self.augment = widget_of(self.fields["augment"], QComboBox)  # the page's own slots
        self.lr = widget_of(self.fields["lr"], QLineEdit)
        self._two_stage = self._probe = False

    @Slot()
    def _on_edited(self) -> None:
        self._show_problems()
        self.edited.emit()

    def set_cuda_available(self, available: bool) -> None:
        device = widget_of(self.fields["device"], QComboBox)
        model = device.model()
        assert isinstance(model, QStandardItemModel)  # a combo box's own model
        item = model.item(device.findData("cuda"))
        item.setEnabled(available)
        item.setToolTip("" if available else "No CUDA GPU found")

    # --- the configuration ------------------------------------------------------------------

    def _read(self) -> tuple[TrainConfig | None, dict[str, str]]:
        values, problems = problems_of(self.fields)
        if problems:
            return None, problems
        try:
            return dataclasses.replace(self._base, **values), {}
        except ConfigError as exc:  # a rule between settings: shown at the one it names
            name = self._where.get(exc.field or "", exc.field)
            return None, {name if name in self.fields else next(iter(self.fields)): str(exc)}

    def problems(self) -> dict[str, str]:
        """The message of each field whose value is invalid, by setting name."""
        return self._read()[1]

    def problem(self) -> str | None:
        """The first invalid field's message, or None when the form is valid."""
        return next(iter(self.problems().values()), None)

    def config(self) -> TrainConfig:
        """The recipe the form shows; `ConfigError` (naming the field) while one is invalid."""
        config, problems = self._read()
        if config is None:
            name, message = next(iter(problems.items()))
            raise ConfigError(message, field=name)
        return config

    def set_config(self, train: TrainConfig) -> None:
        self._base = train
        for field in self.fields.values():
            field.set_values(train)
        self._show_problems()

    def _show_problems(self) -> None:
        problems = self.problems()
        for name, field in self.fields.items():
            field.show_problem(problems.get(name))

    # --- what "auto" means and which fields apply -------------------------------------------

    def show_defaults(self, resolved: TrainConfig) -> None:
        """Show what "auto" means for the chosen strategy."""
        for name, field in self.fields.items():
            if field.option.resolved:
                field.show_resolved(getattr(resolved, name))
        self._probe = bool(resolved.probe_first)
        if self._probe:  # on few images, more: enough for the fine-tuning's minimum of steps
            epochs = self.fields["epochs"]
            epochs.show_special(f"{epochs.option.special} ({resolved.epochs} or more)")
        self.fields["head_epochs"].widget.setEnabled(self._two_stage and not self._probe)

    def set_strategy(self, strategy: str) -> None:
        """Enable the fields that mean something for `strategy`."""
        for field in self.fields.values():
            strategies = field.option.strategies
            if strategies is not None:
                applies = strategy in strategies
                field.widget.setEnabled(applies)
                field.widget.setToolTip(field.option.help if applies else
                                        field.option.idle or field.option.help)
        lr = self.fields["lr"].widget
        self.find_lr.setEnabled(lr.isEnabled())
        self.find_lr.setToolTip(FIND_LR_TIP if lr.isEnabled() else lr.toolTip())
        if strategy in CLASSIC_STRATEGIES:
            for name, words in CLASSIC_WORDS.items():
                self.fields[name].show_special(words)
        self._two_stage = strategy in (self.fields["head_epochs"].option.strategies or ())
        self.fields["head_epochs"].widget.setEnabled(self._two_stage and not self._probe)
