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


def visible_headers(table) -> list[str]:
    """The headers of the columns wholly in view, left to right."""
    header = table.horizontalHeader()
    shown = []
    for visual in range(table.columnCount()):
        logical = header.logicalIndex(visual)
        left = header.sectionViewportPosition(logical)
        if left >= 0 and left + header.sectionSize(logical) <= table.viewport().width():
            shown.append(table.horizontalHeaderItem(logical).text())
    return shown


def test_a_narrow_compare_table_keeps_the_scores_in_view(qtbot):
    from transfer_gui.ui.widgets.tables.compare_table import CompareTable

    table = CompareTable()
    qtbot.addWidget(table)
    summary = {"strategy": "fine-tune", "backbone": "efficientnet_lite0", "status": "completed",
               "history": [{"val_acc": 0.86}], "best_val_acc": 0.9, "macro_f1": 0.88,
               "min_f1": 0.7, "seconds": 71.0, "trainable_params": 3_400_000,
               "total_params": 3_400_000}
    table.set_rows([("/runs/20261202-140200-efficientnet_lite0-fine-tune", summary, "#1f77b4"),
                    ("/runs/20261202-141000-efficientnet_lite0-linear-probe", summary, "#ff7f0e")])
    table.show()
    qtbot.waitExposed(table)
    qtbot.wait(200)  # the columns fit their contents
    # room for the run's name and the strategy and scores, not for every column (as in a
    # 1024 px window with a desktop font): those are the columns in view
    header = table.horizontalHeader()
    size = {table.horizontalHeaderItem(c).text(): header.sectionSize(c)
            for c in range(table.columnCount())}
    important = ["Strategy", "Final acc", "Best acc", "Macro F1", "Worst F1"]
    table.resize(table.RUN_WIDTH + sum(size[h] for h in important) + 2 * table.frameWidth()
                 + table.verticalScrollBar().sizeHint().width() + 4, 200)
    qtbot.wait(200)  # the run column is fitted once the others fit their contents
    shown = visible_headers(table)
    assert len(shown) < table.columnCount()
    assert shown[:len(important) + 1] == ["Run", *important], shown
    assert table.text(table.run_at(0), "Best acc") == "90.0 %"  # the cells follow their header
    table.resize(2200, 200)  # a wide window shows every column
    qtbot.wait(200)
    assert len(visible_headers(table)) == table.columnCount()


def test_layer_names_are_whole_in_the_tree_of_a_1024_px_window(qtbot, window, shapes_dir,
                                                                 monkeypatch):
    from PySide6.QtCore import QModelIndex, Qt
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QStyle

    from gui_helpers import open_data, wait_for_tree

    window.resize(1024, 680)
    open_data(qtbot, window, shapes_dir, monkeypatch)
    window.show_step(1)
    wait_for_tree(qtbot, window)  # EfficientNet-Lite0, names up to three levels deep
    tree = window.model_page.tree
    tree.expandAll()
    qtbot.wait(50)
    model = tree.tree_model
    check = tree.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) + 8
    metrics = tree.fontMetrics()

    def rows(parent=None):
        parent = parent or QModelIndex()
        for r in range(model.rowCount(parent)):
            index = model.index(r, 0, parent)
            yield index
            yield from rows(index)

    seen = 0
    for index in rows():
        text = model.data(index, Qt.ItemDataRole.DisplayRole)
        font = model.data(index, Qt.ItemDataRole.FontRole)  # group names are bold
        width = (QFontMetrics(font) if font is not None else metrics).horizontalAdvance(text)
        room = tree.visualRect(index).width()
        assert room >= width + check, (text, room, width)
        assert model.data(index, Qt.ItemDataRole.ToolTipRole)  # the full path, on hover
        seen += 1
    assert seen > 100
