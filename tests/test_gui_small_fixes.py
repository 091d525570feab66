"""Smaller things a user met: the words and signs of a few pages, F5 away from the Evaluate
page, and a failure whose traceback happens to contain the word "Cancelled"."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from gui_helpers import wait_until

pytestmark = pytest.mark.gui


def test_adaptation_gain_is_in_points():
    from transfer_gui.core.train.transfer.adaptation import _sentence

    text = _sentence({"method": "CORAL", "auto": False, "target_acc_before": 0.5,
                      "target_acc_after": 0.596, "epoch": 3})
    assert "(+9.6 points)" in text and "%)" not in text


def test_quick_start_says_full_fine_tune_starts_from_a_probe():
    from transfer_gui.ui.widgets.notices.quick_start import STRATEGIES

    full = next(text for name, text in STRATEGIES if name.startswith("Full"))
    assert "linear probe" in full and "head-only start" not in full


def test_the_loss_axis_names_a_multi_label_loss(qtbot):
    from transfer_gui.ui.pages.train_texts import loss_name
    from transfer_gui.ui.widgets.plots.metric_plot import TrainingPlots

    assert loss_name(None) == "cross-entropy"
    assert loss_name([SimpleNamespace(multi_label=True)]) == "binary cross-entropy"
    assert loss_name([SimpleNamespace(multi_label=False)] * 2).startswith("sum of")
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.set_loss_name("binary cross-entropy")
    label = plots.loss_plot.getPlotItem().getAxis("left").labelText
    assert label == "binary cross-entropy"


def test_f5_shows_the_evaluate_page_and_a_failure_naming_cancelled_is_shown(
        qtbot, window, tmp_path, monkeypatch):
    from transfer_gui.ui.pages import evaluate_page
    from transfer_gui.ui.widgets.notices import dialogs

    def fails(*_a, **_k):
        raise RuntimeError("cannot read /photos/Cancelled orders/x.png")

    monkeypatch.setattr(evaluate_page, "_evaluate", fails)
    window.show_step(0)
    window.state.run_dir = str(tmp_path)  # a run, without evaluating it at once
    dialogs.SHOWN.clear()
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    assert window.stack.currentWidget() is window.evaluate_page
    wait_until(qtbot, lambda: window.evaluate_page.headline.text() == "Evaluation failed.", 30)
    assert dialogs.SHOWN and dialogs.SHOWN[-1][0] == "Cannot evaluate"


def test_a_dropped_folder_is_searched_off_the_gui_thread(qtbot, window, shapes_dir,
                                                          monkeypatch):
    import threading

    from gui_helpers import drop_files
    from transfer_gui.core.analysis import predict

    walked: list[str] = []
    real = predict.expand_inputs

    def expand(*args, **kwargs):
        walked.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(predict, "expand_inputs", expand)
    window.show_step(4)
    page = window.predict_page
    drop_files(page.drop, [str(shapes_dir / "circle")])
    wait_until(qtbot, lambda: len(page.results) > 0 and not page.running, 60)
    assert walked and threading.main_thread().name not in walked
    page.stop()


def test_run_folders_of_timm_models_do_not_nest(tmp_path):
    from transfer_gui.core import Project, new_run_dir

    project = Project(path=str(tmp_path / "p.tgproj"))
    out = new_run_dir(project, "timm/convnext_tiny.in1k", "full")
    assert "/" not in out.name and "timm-convnext_tiny.in1k" in out.name


def test_a_failed_start_leaves_no_empty_run_folder(qtbot, tiny_window, shapes_dir,
                                                   monkeypatch, tmp_path):
    import os

    from gui_helpers import open_data, use_tiny
    from transfer_gui.ui.pages import train_page

    window = tiny_window
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    made = []

    def refuses(config, out, *args):
        os.makedirs(out)  # as a start that is refused after making its folder
        made.append(out)
        raise RuntimeError("refused")

    monkeypatch.setattr(train_page, "_fit", refuses)
    page = window.train_page
    window.show_step(2)
    with qtbot.waitSignal(page.run_failed, timeout=30_000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert made and not os.path.exists(made[0])


def test_export_asks_before_replacing_a_file(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    existing = tmp_path / "model.onnx"
    existing.write_bytes(b"the user's file")
    asked, started = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2])
                        or QMessageBox.StandardButton.Cancel)
    projects = window.projects
    monkeypatch.setattr(projects, "export_to", lambda *a, **k: started.append(a))
    dialog = SimpleNamespace(chosen=lambda: ("run", str(existing), "onnx"))
    projects._on_export_chosen(dialog)
    assert asked and str(existing) in asked[0] and not started
    assert existing.read_bytes() == b"the user's file"
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Yes)
    projects._on_export_chosen(dialog)
    assert started
