"""The window with a labels CSV: the Data page opens it and shows each task's classes, the
Evaluate page shows one task at a time, a prediction lists every task's answer."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import open_data
from labelgen import two_task_set
from transfer_gui.core.analysis.evaluation import Evaluation
from transfer_gui.core.analysis.metrics import build_result
from transfer_gui.core.analysis.tasks import LabelTable

pytestmark = pytest.mark.gui


def _rows(table) -> list[tuple[str, str]]:
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]


def test_data_page_opens_a_csv_and_the_task_picker_switches(qtbot, window, tmp_path,
                                                            shapes_dir, monkeypatch):
    table = two_task_set(tmp_path / "data", per_pair=2)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(table), ""))
    page = window.data_page
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        qtbot.mouseClick(page.csv_button, Qt.MouseButton.LeftButton)
    assert window.state.config.data.root == str(table)
    assert page.tabs.isTabVisible(page.tasks_tab)
    overview = page.task_overview
    assert overview.picker.names == ["ink", "backdrop"] and not overview.picker.isHidden()
    assert _rows(overview.table) == [("blue", "4"), ("red", "4")]
    page.tabs.setCurrentIndex(page.tasks_tab)
    overview.picker.combo.setFocus()
    qtbot.keyClick(overview.picker.combo, Qt.Key.Key_Down)  # the next task
    assert overview.picker.current() == "backdrop"
    assert _rows(overview.table) == [("dark", "4"), ("light", "4")]
    assert "backdrop" in overview.note.text()
    open_data(qtbot, window, shapes_dir, monkeypatch)  # a folder of classes has no tasks
    assert not page.tabs.isTabVisible(page.tasks_tab)


def _evaluation() -> Evaluation:
    paths = [f"/x/{i}.png" for i in range(4)]
    ink = build_result(["blue", "red"], paths, np.array([0, 1, 1, 0]),
                       np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]))
    tags = LabelTable(["green", "red"], np.array([[1, 0], [1, 1], [0, 1], [0, 0]], float),
                      np.array([[0.8, 0.1], [0.7, 0.9], [0.2, 0.6], [0.1, 0.2]]),
                      np.array([0.5, 0.5]), paths)
    return Evaluation(ink, "the run's validation split (4 images)", [],
                      {"ink": ink, "tags": tags})


def test_evaluate_page_shows_one_task_at_a_time(qtbot):
    from transfer_gui.ui.pages.evaluate_page import EvaluatePage
    from transfer_gui.ui.state import AppState

    page = EvaluatePage(AppState())
    qtbot.addWidget(page)
    page.show()
    page.show_evaluation(_evaluation())
    picker = page.task_picker
    assert not picker.isHidden() and picker.names == ["ink", "tags"]
    assert page.headline.text().startswith("Accuracy 75.0%") and not page.matrix.isHidden()
    picker.combo.setFocus()
    qtbot.keyClick(picker.combo, Qt.Key.Key_Down)
    assert page.headline.text().startswith("mAP 1.000 · exact match 100.0%")
    assert page.matrix.isHidden()
    assert [page.table.item(r, 0).text() for r in range(2)] == ["green (≥ 0.50)",
                                                                "red (≥ 0.50)"]
    qtbot.keyClick(picker.combo, Qt.Key.Key_Up)
    assert page.headline.text().startswith("Accuracy 75.0%") and not page.matrix.isHidden()
    assert page.matrix.classes == ["blue", "red"]


def test_a_prediction_lists_every_task(qtbot):
    from transfer_gui.ui.pages.predict_jobs import Result
    from transfer_gui.ui.widgets.tables.prediction_list import _notes

    result = Result("/x/a.png", [("red", 0.9)], None, None, tasks={
        "ink": [{"label": "red", "probability": 0.9}],
        "tags": [{"label": "green", "probability": 0.8}, {"label": "red", "probability": 0.7}]})
    assert [text for text, _ in _notes(result, 0.5)] == ["ink red 90%; tags green 80%, red 70%"]


def test_compare_table_shows_each_task(qtbot):
    from transfer_gui.ui.widgets.tables.compare_table import CompareTable

    table = CompareTable()
    qtbot.addWidget(table)
    table.set_rows([("/runs/two", {"strategy": "fine-tune", "tasks": {"ink": 1.0,
                                                                      "tags": 0.875}}, "#000")])
    header = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert table.item(0, header.index("Tasks")).text() == "ink 100.0 % · tags 87.5 %"


def test_training_plots_draw_a_curve_per_task(qtbot):
    from transfer_gui.ui.widgets.plots.metric_plot import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.add_epoch(1, 0.6, 0.7, 0.75, tasks={"ink": 1.0, "backdrop": 0.5})
    plots.add_epoch(2, 0.8, 0.5, 0.875, tasks={"ink": 1.0, "backdrop": 0.75})
    assert list(plots.task_acc) == ["ink", "backdrop"]
    assert list(plots.task_acc["backdrop"].values) == [0.5, 0.75]
    legend = [label.text for _, label in plots.acc_plot.getPlotItem().legend.items]
    assert "validation: ink" in legend and "validation: backdrop" in legend
    plots.clear()
    assert not plots.task_acc
    assert all(curve.name() is None or not curve.name().startswith("validation: ")
               for curve in plots.acc_plot.getPlotItem().listDataItems())


def test_a_test_folders_prefix_stays_across_tasks_and_labels_get_ap_and_losses(
        qtbot, monkeypatch, tmp_path):
    import dataclasses

    from gui_helpers import wait_until
    from transfer_gui.ui.pages import evaluate_page
    from transfer_gui.ui.state import AppState

    scored = dataclasses.replace(_evaluation(), source="the folder hard (4 images)")
    monkeypatch.setattr(evaluate_page, "_evaluate", lambda *a, **k: scored)
    from transfer_gui.ui import worker

    worker.accept_jobs(True)  # a window closed by an earlier test stops new tasks
    state = AppState()
    state.run_dir = str(tmp_path)
    page = evaluate_page.EvaluatePage(state)
    qtbot.addWidget(page)
    page.show()
    page.evaluate_folder(str(tmp_path / "hard"))
    wait_until(qtbot, lambda: page.headline.text().startswith("Test folder hard: Accuracy"))
    picker = page.task_picker
    picker.combo.setFocus()
    qtbot.keyClick(picker.combo, Qt.Key.Key_Down)  # the multi-label task
    assert page.headline.text().startswith("Test folder hard: mAP 1.000")
    header = [page.table.horizontalHeaderItem(c).text() for c in range(page.table.columnCount())]
    assert header[-1] == "AP" and page.table.item(0, 5).text() == "1.000"
    grid = page.loss_grid.grid_model
    assert grid.rowCount() == 4  # the highest binary cross-entropy first
    assert grid.item(0).path in {"/x/2.png", "/x/1.png", "/x/0.png", "/x/3.png"}
    qtbot.keyClick(picker.combo, Qt.Key.Key_Up)
    assert page.headline.text().startswith("Test folder hard: Accuracy")
    assert page.table.columnCount() == 5
    page.task.wait()


def test_the_subtitle_names_the_run_being_evaluated(qtbot, monkeypatch, tmp_path):
    import threading

    from gui_helpers import wait_until
    from transfer_gui.ui import worker
    from transfer_gui.ui.pages import evaluate_page
    from transfer_gui.ui.state import AppState

    gate = threading.Event()
    gate.set()

    def evaluated(*_a, **_k):
        gate.wait(30)
        return _evaluation()

    monkeypatch.setattr(evaluate_page, "_evaluate", evaluated)
    worker.accept_jobs(True)
    page = evaluate_page.EvaluatePage(AppState())
    qtbot.addWidget(page)
    page.show()
    page.state.set_run(str(tmp_path / "first-run"))
    wait_until(qtbot, lambda: "first-run" in page.source.text() and not page.task.running)
    gate.clear()  # the next evaluation takes its time
    page.state.run_trained(str(tmp_path / "second-run"))  # a new run trained
    try:
        assert "second-run" in page.source.text() and "first-run" not in page.source.text()
    finally:
        gate.set()
        wait_until(qtbot, lambda: not page.task.running)
    assert "second-run" in page.source.text()
