"""Texts that must say what is true now: the Train page's status while a field is invalid,
the highest-loss captions on the Evaluate page (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture()
def train(qtbot):
    from transfer_gui.ui.pages import train_page
    from transfer_gui.ui.state import AppState

    widget = train_page.TrainPage(AppState())
    qtbot.addWidget(widget)
    return widget


def test_the_status_says_what_is_wrong_while_start_is_disabled(qtbot, train):
    form, status = train.form, train.status
    ready = status.text()
    assert train.start_button.isEnabled() and "press Start" in ready
    form.lr.clear()
    qtbot.keyClicks(form.lr, "-0.5")
    assert not train.start_button.isEnabled()
    assert "press Start" not in status.text()
    assert status.text().startswith("Start is disabled: Learning rate")
    assert form.fields["lr"].message.text() in status.text()
    # a second invalid field: still the status of a disabled Start
    box = form.batch_size.lineEdit()
    box.selectAll()
    qtbot.keyClicks(box, "0")
    assert status.text().startswith("Start is disabled:")
    qtbot.keyClicks(box, "8")
    form.lr.clear()
    qtbot.keyClicks(form.lr, "0.01")
    assert train.start_button.isEnabled() and status.text() == ready


def test_highest_loss_captions_show_both_class_names_on_their_own_lines(qtbot):
    from PySide6.QtCore import Qt

    from transfer_gui.ui.widgets.tables.image_grid import GridItem, ImageGrid

    grid = ImageGrid(size=96, caption_lines=2)
    qtbot.addWidget(grid)
    long = "a class name far too long for a tile"
    grid.set_items([GridItem("a.png", "sandal\n→ ankle boot", "full"),
                    GridItem("b.png", f"{long}\n→ pullover", f"true {long}")])
    model = grid.grid_model
    shown = [model.data(model.index(r), Qt.ItemDataRole.DisplayRole) for r in range(2)]
    assert shown[0] == "sandal\n→ ankle boot"  # whole names, nothing cut in a word
    first, second = shown[1].split("\n")
    assert first.endswith("…") and long.startswith(first[:-1]) and second == "→ pullover"
    metrics, room = grid.fontMetrics(), grid.gridSize().width()
    assert all(metrics.horizontalAdvance(line) <= room for s in shown for line in s.split("\n"))
    # two lines of text fit under the thumbnail, and the tooltip keeps the full text
    assert grid.gridSize().height() >= 96 + 2 * metrics.lineSpacing()
    assert model.data(model.index(1), Qt.ItemDataRole.ToolTipRole) == f"true {long}"
