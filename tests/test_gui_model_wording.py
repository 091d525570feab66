"""The Model page tells its presets apart, says the ImageNet head is replaced, and leaves
room between the layer tree's check boxes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyle

from gui_helpers import open_data, wait_for_tree

pytestmark = pytest.mark.gui
NBSP = "\u00a0"


def test_presets_read_apart_and_the_tree_rows_have_room(qtbot, window, shapes_dir,
                                                        monkeypatch):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    window.show_step(1)
    wait_for_tree(qtbot, window)
    page = window.model_page
    assert page.current_row().name == "efficientnet_lite0"
    page.unfreeze.setValue(6)
    qtbot.mouseClick(page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    top = page.summary.text()
    qtbot.mouseClick(page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    full = page.summary.text()
    assert top != full
    assert "frozen: stem, stages 1-2" in top and f"(100{NBSP}%)" not in top
    assert full.endswith("nothing frozen")
    facts = page.description.text().replace(NBSP, " ")
    assert "4.7 M parameters with its ImageNet head; 3.4 M without it + a new head for " \
           "3 classes" in facts

    tree = page.tree
    box = tree.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorHeight)
    first, second = tree.tree_model.find("stem"), tree.tree_model.find("stage1")
    gap = tree.visualRect(second).top() - tree.visualRect(first).top() - box
    assert gap >= 6  # between one row's check box and the next one's
