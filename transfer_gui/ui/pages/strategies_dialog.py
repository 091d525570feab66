"""The "Compare strategies" dialog: which strategies to train, and for how many epochs."""

from __future__ import annotations

import dataclasses
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core import STRATEGY_DEFAULTS, STRATEGY_NAMES, TrainConfig, option_named
from ..widgets.inputs.option_fields import make_field, problems_of, widget_of

CHOICES = (
    ("linear-probe", "only the new head; the network frozen"),
    ("fine-tune", "the head and the top layer groups"),
    ("full", "every layer"),
    ("scratch", "every layer from random weights: what pretraining bought"),
    ("logistic", "a classic model on the frozen features"),
    ("knn", "nearest neighbours on the frozen features"),
)
DEFAULT = ("linear-probe", "fine-tune", "scratch")
PROBE_EPOCHS = STRATEGY_DEFAULTS["linear-probe"][0]  # a probe stage's, as the engine trains it
COMPARE_EPOCHS = 5  # the dialog's epochs while the recipe's are "auto"


class StrategiesDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare strategies")
        intro = QLabel("Each strategy trains on the same split of your data with the same "
                       "number of epochs, using the backbone and settings of the Model and "
                       "Train pages. A fine-tune starts from a linear probe (its epoch 1, "
                       f"{PROBE_EPOCHS} epochs of the head on cached features), so the linear "
                       f"probe trains {PROBE_EPOCHS} epochs too: every strategy's probe gets "
                       "the same budget. Classic heads are fitted once, without epochs.")
        intro.setWordWrap(True)
        self.boxes: dict[str, QCheckBox] = {}
        column = QVBoxLayout()
        for key, text in CHOICES:
            box = QCheckBox(f"{STRATEGY_NAMES[key]}: {text}")
            box.setChecked(key in DEFAULT)
            box.toggled.connect(self._on_choice_toggled)
            self.boxes[key] = box
            column.addWidget(box)
        self.epochs_field = make_field(epochs_option())
        self.epochs = widget_of(self.epochs_field, QSpinBox)
        form = QFormLayout()
        self.epochs_field.place(form)
        self.epochs_field.changed.connect(self._on_choice_toggled)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.run_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.run_button.setText("Train and compare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(column)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def strategies(self) -> list[str]:
        return [key for key, box in self.boxes.items() if box.isChecked()]

    def set_strategies(self, strategies: list[str]) -> None:
        for key, box in self.boxes.items():
            box.setChecked(key in strategies)

    @Slot()
    def _on_choice_toggled(self, *_: object) -> None:
        problem = problems_of({"epochs": self.epochs_field})[1].get("epochs")
        self.epochs_field.show_problem(problem)
        self.run_button.setEnabled(bool(self.strategies()) and problem is None)


def epochs_option() -> Any:
    """`TrainConfig.epochs` as the dialog asks for it: a number for every strategy alike, so
    without "auto" (each strategy's own default), starting at `COMPARE_EPOCHS`."""
    declared = option_named(TrainConfig, "epochs")
    return dataclasses.replace(declared, default=COMPARE_EPOCHS, nullable=False, special="",
                               suffix=" per strategy",
                               help="How many passes over the training images, the same for "
                                    "every strategy compared")
