"""Strategy controls in the window: classic-head presets, two-stage fine-tuning, the
learning-rate finder and the transfer section (pytest-qt, offscreen)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import (
    open_data,
    set_form,
    start_and_wait,
    use_tiny,
    wait_for_tree,
    wait_until,
)
from imagegen import make_dataset
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import TransferConfig
from transfer_gui.ui.widgets.notices import dialogs

pytestmark = pytest.mark.gui


def save_as(window, monkeypatch, path) -> dict:
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.projects.save_project_as()
    return json.loads(path.read_text())


def test_classic_preset_trains_nothing_and_two_stage_shows_its_default(
        qtbot, window, shapes_dir, monkeypatch, tmp_path):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    page, form = window.model_page, window.train_page.form
    page.presets.classic_actions["knn"].trigger()  # the "Classic head" menu
    model = window.state.config.model
    assert model.strategy == "knn" and model.trainable == ()
    tree = page.tree.tree_model
    assert tree.trainable == set() and tree.locked
    stem = tree.find("stem")
    assert not tree.flags(stem) & Qt.ItemFlag.ItemIsUserCheckable
    assert not tree.setData(stem, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert "k-nearest neighbours" in page.summary.text() and "none of" in page.summary.text()
    assert page.presets.classic_button.isChecked()
    assert not form.epochs.isEnabled() and not form.find_lr.isEnabled()
    assert not form.head_epochs.isEnabled()
    saved = save_as(window, monkeypatch, tmp_path / "classic.tgproj")
    assert saved["config"]["model"]["strategy"] == "knn"

    page.presets.classic_actions["logistic"].trigger()
    assert window.state.config.model.strategy == "logistic"
    assert "Logistic regression" in page.summary.text()

    qtbot.mouseClick(page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    assert window.state.config.model.strategy == "fine-tune" and not tree.locked
    assert not page.presets.classic_button.isChecked()
    assert form.probe_first.isEnabled() and form.epochs.isEnabled()
    assert not form.head_epochs.isEnabled()  # the default starts from a converged probe
    assert form.layer_decay.specialValueText().startswith("auto (0.")
    form.probe_first.setCurrentIndex(form.probe_first.findData(False))  # the older recipe
    assert window.state.config.train.probe_first is False
    assert form.head_epochs.isEnabled()
    assert form.head_epochs.specialValueText() == "auto (2)"
    assert window.state.config.train.head_epochs is None
    form.head_epochs.setValue(3)
    assert window.state.config.train.head_epochs == 3
    form.head_epochs.setValue(0)  # one stage
    assert window.state.config.train.head_epochs == 0
    saved = save_as(window, monkeypatch, tmp_path / "two-stage.tgproj")
    assert saved["config"]["train"]["head_epochs"] == 0
    form.head_epochs.setValue(-1)  # back to auto
    assert window.state.config.train.head_epochs is None


def test_lr_finder_suggests_a_rate_and_one_click_uses_it(qtbot, window, shapes_dir,
                                                          monkeypatch):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    set_form(window, epochs=4)
    page = window.train_page
    qtbot.mouseClick(page.form.find_lr, Qt.MouseButton.LeftButton)
    dialog = page.lr_dialog
    assert dialog.isVisible()
    wait_until(qtbot, lambda: not dialog.running, timeout=120)
    assert not dialogs.SHOWN, dialogs.SHOWN
    assert dialog.suggestion is not None
    assert dialog.plot.points >= 10 and dialog.plot.line.isVisible()
    assert dialog.plot.getPlotItem().getAxis("bottom").logMode  # a log rate axis
    assert "Suggested learning rate" in dialog.status.text()
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert page.form.lr.text() == f"{dialog.suggestion:.3g}"
    assert window.state.config.train.lr == pytest.approx(dialog.suggestion, rel=1e-2)

    # a second sweep, stopped at once: no error, no thread left behind
    qtbot.mouseClick(page.form.find_lr, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: not dialog.running, timeout=30)
    assert not dialogs.SHOWN, dialogs.SHOWN
    assert dialog.run_button.isEnabled() and not dialog.stop_button.isEnabled()
    dialog.close()


def test_transfer_section_fills_the_config_and_the_project(qtbot, window, shapes_dir,
                                                           monkeypatch, tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    chosen = [""]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: chosen[0])
    form = window.train_page.transfer
    rows = form.form
    assert not rows.isRowVisible(form.source) and not rows.isRowVisible(form.target)

    form.mode.setCurrentIndex(form.mode.findData("joint"))  # no folder chosen: no change
    assert form.mode.currentData() == "none"
    assert window.state.config.transfer == TransferConfig()

    chosen[0] = str(source)
    form.mode.setCurrentIndex(form.mode.findData("joint"))
    assert rows.isRowVisible(form.source) and rows.isRowVisible(form.source_weight)
    assert not rows.isRowVisible(form.target) and not rows.isRowVisible(form.adapt_weight)
    form.source_weight.setValue(0.5)
    form.target_weight.setValue(2.0)
    assert window.state.config.transfer == TransferConfig(
        mode="joint", source_dir=str(source), source_weight=0.5, target_weight=2.0)

    chosen[0] = str(target)
    form.mode.setCurrentIndex(form.mode.findData("dann"))
    assert rows.isRowVisible(form.target) and rows.isRowVisible(form.adapt_weight)
    assert not rows.isRowVisible(form.source) and not rows.isRowVisible(form.target_weight)
    form.adapt_weight.setValue(0.3)
    transfer = window.state.config.transfer
    assert (transfer.mode, transfer.target_dir, transfer.adapt_weight) == \
        ("dann", str(target), 0.3)

    path = tmp_path / "adapt.tgproj"
    saved = save_as(window, monkeypatch, path)["config"]["transfer"]
    assert saved["mode"] == "dann" and saved["adapt_weight"] == 0.3
    assert saved["target_dir"] == "target" and saved["source_dir"] == "source"  # relative
    window.projects.new_project()
    assert form.mode.currentData() == "none" and not rows.isRowVisible(form.target)
    assert window.projects.open_project(str(path))
    assert form.mode.currentData() == "dann" and form.adapt_weight.value() == 0.3
    assert form.target.label.toolTip() == str(target)
    assert window.state.config.transfer == transfer

    form.mode.setCurrentIndex(form.mode.findData("coral"))  # the target folder is kept
    assert window.state.config.transfer.mode == "coral"
    assert window.state.config.transfer.target_dir == str(target)


def test_adaptation_set_in_the_window_reaches_the_run(qtbot, tiny_window, tmp_path,
                                                      monkeypatch):
    """DANN chosen in the Transfer section trains with the target folder: the run records it,
    the accuracy plot shows the target domain, the two-stage default is off."""
    source = make_dataset(tmp_path / "source", per_class=8, size=40)
    target = make_dataset(tmp_path / "target", per_class=6, size=40, seed=1, invert=True)
    window = tiny_window
    open_data(qtbot, window, source, monkeypatch)
    use_tiny(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    set_form(window, epochs=2, batch_size=8)
    form = window.train_page.transfer
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(target))
    form.mode.setCurrentIndex(form.mode.findData("dann"))
    assert window.train_page.form.head_epochs.specialValueText() == "auto (0)"
    run_dir, status = start_and_wait(qtbot, window)
    assert status == "completed", window.train_page.log.toPlainText()[-2000:]
    meta = json.loads((Path(run_dir) / "run.json").read_text())
    assert meta["config"]["transfer"]["mode"] == "dann"
    assert meta["config"]["transfer"]["target_dir"] == str(target)
    targets = [row["target_acc"] for row in meta["history"]]
    assert len(targets) == 2
    # the kept model's accuracy on the target folder, scored apart, is its epoch's figure
    kept = evaluate_run(run_dir, str(target), device="cpu").result.accuracy
    assert targets[meta["best"]["epoch"] - 1] == pytest.approx(kept)
    assert list(window.train_page.plots.target_acc.values) == pytest.approx(targets)
    assert "target acc" in window.train_page.log.toPlainText()
