"""A project saved and opened again brings back what the user saw: the Train page's curves
and log of the last run, Compare's ticks, Predict's results and its Grad-CAM tick."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_gui_compare import train_run

from gui_helpers import wait_until

pytestmark = pytest.mark.gui


def test_reopening_a_project_restores_the_pages(qtbot, window, shapes_dir, tmp_path):
    older = train_run(shapes_dir, tmp_path / "older", "linear-probe", 1)
    last = train_run(shapes_dir, tmp_path / "last", "linear-probe", 2)
    state = window.state
    state.set_run(older)
    state.set_run(last)
    compare = window.compare_page
    wait_until(qtbot, lambda: set(compare.runs()) == {older, last})
    compare.set_checked(older, False)  # the user unticks the older run
    predict = window.predict_page
    image = str(next(iter(sorted(shapes_dir.glob("*/*.png")))))
    predict.add_paths([image])
    wait_until(qtbot, lambda: len(predict.results) == 1 and not predict.running, 60)
    window.show_step(4)
    cam = predict.cam
    qtbot.mouseClick(cam, Qt.MouseButton.LeftButton, pos=cam.rect().center())
    assert predict.cam.isChecked()
    path = str(tmp_path / "p.tgproj")
    assert window.projects._save(path)

    window.projects.new_project()
    assert not predict.results and not window.train_page.log.toPlainText()
    assert window.projects.open_project(path)
    train = window.train_page
    wait_until(qtbot, lambda: train.plots.val_acc.n == 2, 20)  # the last run's curves
    assert "epoch 2" in train.log.toPlainText().lower()
    assert compare.checked_runs() == [last]  # the ticks as saved
    wait_until(qtbot, lambda: len(predict.results) == 1 and not predict.running, 60)
    assert predict.results[0].path == image and predict.cam.isChecked()
