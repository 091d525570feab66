"""The row of strategy presets above the layer tree: one button per strategy, the number of
groups "fine-tune" unfreezes, and a "Classic head" button whose menu picks logistic regression
or k-nearest neighbours."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QButtonGroup, QMenu, QPushButton, QSpinBox, QWidget

from ....core import STRATEGY_NAMES, ModelConfig, option_named
from .flow_layout import FlowLayout, flow_policy
from .option_fields import make_field, widget_of

PRESETS = (  # (strategy, tooltip); the buttons' words are the strategies' declared names
    ("linear-probe", "Train only the new head; the backbone stays frozen."),
    ("fine-tune", "Train the head and the top layer groups (auto: the top half of the "
                  "network's groups, on every backbone), earlier groups with smaller learning "
                  "rates."),
    ("full", "Train every layer."),
    ("scratch", "Same architecture, random weights: the baseline that shows what pretraining "
                "bought."),
)
CLASSIC = (
    ("logistic", "Logistic regression on the frozen backbone's features (L2 strength picked on "
                 "the validation split)"),
    ("knn", "k-nearest neighbours on the frozen backbone's features (k picked on the "
            "validation split)"),
)


class PresetBar(QWidget):
    """Emits `preset_chosen(strategy)` when the user picks a preset and `unfreeze_changed` when
    the number of unfrozen groups changes; `check(strategy)` shows a strategy as chosen."""

    preset_chosen = Signal(str)
    unfreeze_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        self._current = ""
        layout = FlowLayout(self)  # wraps onto a second row in a narrow window
        flow_policy(self)
        for key, tip in PRESETS:
            layout.addWidget(self._button(key, STRATEGY_NAMES[key], tip))
            if key == "fine-tune":
                self.unfreeze = self._unfreeze_spin()
                layout.addWidget(self.unfreeze)
        layout.addWidget(self._classic_button())

    def _button(self, key: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.clicked.connect(partial(self._on_preset_clicked, key))
        self.group.addButton(button)
        self.buttons[key] = button
        return button

    def _unfreeze_spin(self) -> QSpinBox:
        """The number box of `ModelConfig.unfreeze` (range, default and tooltip declared
        there); the Model page lowers its maximum to the backbone's groups."""
        spin = widget_of(make_field(option_named(ModelConfig, "unfreeze")), QSpinBox)
        spin.valueChanged.connect(self.unfreeze_changed)
        return spin

    def unfreeze_value(self) -> int | None:
        """The box's value as `ModelConfig.unfreeze`: None at its lowest position (auto)."""
        value = self.unfreeze.value()
        return None if value <= self.unfreeze.minimum() else value

    def _classic_button(self) -> QPushButton:
        self.classic_button = QPushButton("Classic head")
        self.classic_button.setCheckable(True)
        self.classic_button.setToolTip("Feature transfer: the backbone's embeddings into a "
                                       "classic model, no gradient through the network")
        self.group.addButton(self.classic_button)
        menu = QMenu(self.classic_button)
        choices = QActionGroup(menu)
        choices.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)
        self.classic_actions: dict[str, QAction] = {}
        for key, tip in CLASSIC:
            action = QAction(STRATEGY_NAMES[key], menu)
            action.setCheckable(True)
            action.setToolTip(tip)
            action.triggered.connect(partial(self._on_preset_clicked, key))
            choices.addAction(action)
            menu.addAction(action)
            self.classic_actions[key] = action
        menu.setToolTipsVisible(True)
        menu.aboutToHide.connect(self._on_menu_hidden)
        self.classic_button.setMenu(menu)
        return self.classic_button

    @Slot()
    def _on_menu_hidden(self) -> None:
        self.check(self._current)  # a menu closed without a choice changes nothing

    @Slot()
    def _on_preset_clicked(self, strategy: str, *_: object) -> None:
        self.preset_chosen.emit(strategy)

    def check(self, strategy: str) -> None:
        """Show `strategy` as the chosen preset (without emitting anything); "" (a selection
        no preset matches) shows none."""
        self._current = strategy
        action = self.classic_actions.get(strategy)
        if action is not None:
            action.setChecked(True)
            self.classic_button.setChecked(True)
            return
        for other in self.classic_actions.values():
            other.setChecked(False)
        button = self.buttons.get(strategy)
        if button is not None:
            button.setChecked(True)
        elif (checked := self.group.checkedButton()) is not None:
            self.group.setExclusive(False)  # an exclusive group cannot uncheck its last button
            checked.setChecked(False)
            self.group.setExclusive(True)

    def set_unfreeze(self, value: int | None) -> None:
        """Show `ModelConfig.unfreeze`: None (auto) at the box's lowest position."""
        self.unfreeze.blockSignals(True)
        self.unfreeze.setValue(self.unfreeze.minimum() if value is None else value)
        self.unfreeze.blockSignals(False)
