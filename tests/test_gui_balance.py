"""The Train form's "Unbalanced classes" choice: picked with the keyboard, it is the recipe's
option (the run's configuration), and it is idle for k-NN, whose votes are not weighted."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from transfer_gui.core import TrainConfig

pytestmark = pytest.mark.gui


def test_the_unbalanced_classes_choice_reaches_the_config(qtbot):
    from transfer_gui.ui.pages import train_page
    from transfer_gui.ui.state import AppState

    page = train_page.TrainPage(AppState())
    qtbot.addWidget(page)
    combo = page.form.balance
    assert combo.currentData() is None and combo.currentText().startswith("Auto")
    assert page.state.config.train.balance is None
    combo.setFocus()
    for _ in range(3):  # Auto, None, Class-weighted loss, Balanced sampler
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentText() == "Balanced sampler"
    assert page.form.config().balance == "sampler"
    assert page.state.config.train.balance == "sampler"
    qtbot.keyClick(combo, Qt.Key.Key_Up)
    assert page.state.config.train.balance == "weighted"

    page.form.set_config(TrainConfig(balance="none"))  # a project's recipe is shown
    assert combo.currentText() == "None"
    page.form.set_strategy("knn")
    assert not combo.isEnabled() and "k-NN" in combo.toolTip()
    page.form.set_strategy("logistic")
    assert combo.isEnabled()
