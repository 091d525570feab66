"""The Compare page: runs side by side, and "Compare strategies" through its dialog."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

from gui_helpers import open_data, set_form, wait_for_tree, wait_until
from transfer_gui.core.analysis.compare import run_summary, with_mark
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.train.loop import Trainer
from transfer_gui.ui.widgets.notices import dialogs
from transfer_gui.ui.widgets.tables.run_style import percent, run_label

pytestmark = pytest.mark.gui


def train_run(root: Path, out: Path, strategy: str, epochs: int) -> str:
    config = RunConfig(DataConfig(root=str(root)), ModelConfig("tiny_cnn", strategy),
                       TrainConfig(epochs=epochs, batch_size=8, image_size=32))
    Trainer().fit(config, out, [])
    return str(out)


def test_compare_page_lists_runs_and_compares_them(qtbot, window, shapes_dir, monkeypatch,
                                                   tmp_path):
    probe = train_run(shapes_dir, tmp_path / "probe", "linear-probe", 2)
    full = train_run(shapes_dir, tmp_path / "full", "full", 3)
    page = window.compare_page
    shortcut = next(a for a in window.findChildren(type(window.start_action))
                    if a.shortcut() == QKeySequence("Ctrl+6"))
    shortcut.trigger()
    assert window.stack.currentWidget() is page
    assert page.hint.isVisible()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: probe)
    qtbot.mouseClick(page.add_button, Qt.MouseButton.LeftButton)  # "Add run folder…"
    assert page.add_run(full)
    assert page.checked_runs() == [probe, full] == window.state.project.runs
    assert not page.hint.isVisible()
    wait_until(qtbot, lambda: {probe, full} <= set(page.summaries), timeout=60)

    for run, epochs, strategy in ((probe, 2, "Linear probe"), (full, 3, "Full fine-tune")):
        expected = run_summary(run)  # cached by the page's summary: evaluation.json
        table = page.table
        assert table.text(run, "Strategy") == strategy
        assert table.text(run, "Backbone") == "tiny_cnn"
        assert table.text(run, "Status") == "completed"
        assert table.text(run, "Best acc") == with_mark(percent(expected["best_val_acc"]),
                                                        expected)  # marked if it kept its probe
        assert table.text(run, "Final acc") == percent(expected["history"][-1]["val_acc"])
        assert table.text(run, "Macro F1") == f"{expected['macro_f1']:.3f}"
        assert table.text(run, "Worst F1") == f"{expected['min_f1']:.3f}"
        assert table.text(run, "Time") == f"{expected['seconds']:.1f} s"
        assert table.text(run, "Epochs") == str(epochs)
        assert table.text(run, "Image size") == "32 px"
        assert page.curves.points(run) == (epochs, epochs)  # a point per epoch
    assert page.curves.legend_labels() == [run_label(probe), run_label(full)]
    full_row, probe_row = run_summary(full), run_summary(probe)
    if full_row["kept_probe"]:  # its model is its probe's: the head alone trained
        assert full_row["trainable_params"] == probe_row["trainable_params"]
        assert table.text(full, "Trainable") == table.text(probe, "Trainable")
    else:
        assert table.text(full, "Trainable").endswith("(100\u00a0%)")

    # the runs are part of the project: saved, and listed again when it opens
    path = tmp_path / "runs.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.projects.save_project()
    window.projects.new_project()
    assert page.runs() == [] and page.table.rowCount() == 0 and page.hint.isVisible()
    assert window.projects.open_project(str(path))
    assert page.checked_runs() == [probe, full]
    wait_until(qtbot, lambda: {probe, full} <= set(page.summaries), timeout=60)

    page.set_checked(probe, False)
    assert page.table.rowCount() == 1 and list(page.curves.items) == [full]
    assert page.curves.legend_labels() == [run_label(full)]
    # double-click a row: that run becomes the current one (Evaluate and Predict use it)
    page.table.run_activated.emit(full)
    assert window.state.run_dir == full


def test_compare_strategies_through_the_dialog(qtbot, window, hard_shapes_dir, monkeypatch):
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    set_form(window, epochs=7)
    window.show_step(5)
    page = window.compare_page
    qtbot.mouseClick(page.compare_button, Qt.MouseButton.LeftButton)
    dialog = page.strategies_dialog
    assert dialog.isVisible() and dialog.epochs.value() == 7
    dialog.set_strategies(["linear-probe", "knn", "fine-tune"])
    dialog.epochs.setValue(2)
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    assert page.running and window.state.training
    assert not window.train_page.start_button.isEnabled()  # one training at a time
    wait_until(qtbot, lambda: not page.running, timeout=240)
    assert not dialogs.SHOWN, dialogs.SHOWN
    assert not window.state.training and window.train_page.start_button.isEnabled()

    runs = window.state.project.runs
    assert [Path(r).name for r in runs] == ["linear-probe", "fine-tune", "knn"]  # as listed
    assert page.checked_runs() == runs and set(runs) <= set(page.summaries)
    splits = [json.loads((Path(r) / "split.json").read_text()) for r in runs]
    assert all(s == splits[0] for s in splits)  # one split for every strategy
    # the linear probe trains as many epochs as the fine-tune's probe stage (its epoch 1)
    assert run_summary(runs[1])["probe_epochs"] == 10
    for run, epochs in zip(runs, (10, 2, 1), strict=True):
        assert page.curves.points(run) == (epochs, epochs)
        for header in ("Best acc", "Macro F1", "Worst F1", "Time", "Trainable"):
            assert page.table.text(run, header) not in ("–", "…"), (run, header)
        assert page.table.text(run, "Macro F1") == f"{run_summary(run)['macro_f1']:.3f}"
    assert page.table.text(runs[2], "Strategy") == "k-NN"
    assert page.table.text(runs[2], "Trainable") == "0 (0\u00a0%)"


def test_stopping_a_comparison_keeps_what_it_trained(qtbot, window, hard_shapes_dir, monkeypatch):
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    set_form(window, epochs=1)
    page = window.compare_page
    page.compare_strategies()
    page.strategies_dialog.set_strategies(["full", "scratch"])
    page.strategies_dialog.epochs.setValue(200)
    page.strategies_dialog.accept()
    wait_until(qtbot, lambda: page.progress.value() > 0, timeout=120)
    window.stop_action.trigger()  # Run > Stop training stops a comparison too
    wait_until(qtbot, lambda: not page.running, timeout=30)
    runs = window.state.project.runs
    assert [Path(r).name for r in runs] == ["full"]  # scratch never started
    wait_until(qtbot, lambda: runs[0] in page.summaries, timeout=60)
    assert page.table.text(runs[0], "Status") == "cancelled"
    assert page.compare_button.isEnabled() and not page.stop_button.isEnabled()


def test_run_labels_start_with_what_tells_runs_apart():
    """A narrow list cuts the end of a label: the strategy and time come first, the backbone
    that a project's runs mostly share last."""
    assert run_label("/p/20261207-140200-efficientnet_lite0-fine-tune") == \
        "fine-tune · 14:02 · efficientnet_lite0"
    assert run_label("/p/20261207-140500-timm-convnext_tiny-linear-probe") == \
        "linear-probe · 14:05 · timm-convnext_tiny"
    assert run_label("/p/20261207-141000-compare/knn") == "knn · compare 14:10"
    assert run_label("/p/my-run") == "my-run"
