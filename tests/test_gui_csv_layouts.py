"""The window with an exported labels CSV: the Data page says why it cannot train in the words
of the command line, its image root makes the paths readable, and Evaluate scores a CSV."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import wait_until
from labelgen import two_task_set, write_csv
from transfer_gui.cli import main
from transfer_gui.core.data.labels import scan_data
from transfer_gui.core.data.trainable import untrainable_reason
from transfer_gui.ui import worker
from transfer_gui.ui.widgets.notices.banner import sentence

pytestmark = pytest.mark.gui


def test_image_root_and_evaluating_a_csv(qtbot, window, tmp_path, monkeypatch):
    project = tmp_path / "project"
    source = two_task_set(project, per_pair=4)
    with open(source, newline="") as handle:
        header, *rows = list(csv.reader(handle))
    table = write_csv(tmp_path / "export.csv", header, rows)  # paths relative to PROJECT
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), ""))
    page = window.data_page
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        qtbot.mouseClick(page.csv_button, Qt.MouseButton.LeftButton)
    assert not page.image_root.isHidden()
    said = untrainable_reason(scan_data(table))
    assert said is not None and page.banner.text() == sentence(said)  # as train says it
    assert "class folders" not in page.banner.text()
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        page.image_root.choose(str(project))
    assert window.state.config.data.image_root == str(project)
    assert len(window.state.scan.samples) == 16 and page.banner.isHidden()

    run = tmp_path / "run"
    assert main(["train", str(source), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--workers", "0"]) == 0
    evaluate = window.evaluate_page
    window.state.set_run(str(run))
    wait_until(qtbot, lambda: evaluate.evaluation is not None and not worker.live_jobs())
    test = write_csv(project / "test.csv", header, rows[:10])
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(test), ""))
    qtbot.mouseClick(evaluate.csv_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: evaluate.headline.text().startswith("Test folder")
               and not worker.live_jobs())
    assert "(10 images)" in evaluate.source.text()
