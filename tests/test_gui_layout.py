"""The window with a parent folder of train/ and test/: the Data page reads the inner classes
and says which layout it recognised; the Evaluate page offers the test/ part."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_gui_compare import train_run

from gui_helpers import open_data, wait_until
from imagegen import make_dataset
from transfer_gui.ui import worker

pytestmark = pytest.mark.gui

SHAPES = ("circle", "square")


def test_a_train_test_parent_in_the_window(qtbot, window, tmp_path, monkeypatch):
    parent = tmp_path / "data"
    make_dataset(parent / "train", SHAPES, per_class=8, size=32)
    make_dataset(parent / "test", SHAPES, per_class=3, size=32, seed=4)
    open_data(qtbot, window, parent, monkeypatch)
    page = window.data_page
    names = [page.class_table.item(r, 0).text() for r in range(page.class_table.rowCount())]
    assert names == ["circle", "square"]  # not "test" and "train"
    layout = page.layout_label.text()
    assert "drawn from train/" in layout and "test/ (6 images)" in layout
    assert not page.own_split.isEnabled()  # no val/: the validation split is drawn
    assert "16 training" not in page.summary.text() and "validation image" in page.summary.text()
    assert page.banner.isHidden() or "split folder" not in page.banner.text()

    evaluate = window.evaluate_page
    assert not evaluate.test_button.isHidden() and evaluate.test_button.text() == \
        "Evaluate on test/"
    run = train_run(parent, tmp_path / "run", "linear-probe", 1)
    window.state.set_run(run)
    wait_until(qtbot, lambda: evaluate.evaluation is not None and not worker.live_jobs(), 60)
    assert "validation split" in evaluate.source.text()
    qtbot.mouseClick(evaluate.test_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: evaluate.headline.text().startswith("Test folder test:"), 60)
    assert int(evaluate.matrix.matrix.sum()) == 6
    assert all("/test/" in item.path for item in evaluate.evaluation.result.items)


def test_a_class_named_test_is_warned_about_on_the_data_page(qtbot, window, tmp_path,
                                                              monkeypatch):
    make_dataset(tmp_path / "data", SHAPES, per_class=3, size=32)
    (tmp_path / "data" / "square").rename(tmp_path / "data" / "test")
    open_data(qtbot, window, tmp_path / "data", monkeypatch)
    page = window.data_page
    assert not page.banner.isHidden() and "'test'" in page.banner.text()
    assert "one sub-folder per class" in page.layout_label.text()
    assert window.evaluate_page.test_button.isHidden()
