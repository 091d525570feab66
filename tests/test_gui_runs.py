"""What the pages show stays true to the project: a resumed run reaches Evaluate, Compare and
Predict; a reopened project's layer tree has the project's head; the preset highlight follows
the tree (pytest-qt, offscreen, the tiny test network)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QLabel

from gui_helpers import open_data, set_form, tree_built, use_tiny, wait_until
from transfer_gui.core.analysis.compare import run_summary, with_mark
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.io import bundle
from transfer_gui.core.train import steps
from transfer_gui.ui.pages import model_page
from transfer_gui.ui.widgets.notices import dialogs
from transfer_gui.ui.widgets.tables.run_style import percent

pytestmark = pytest.mark.gui
HEAD_3 = 32 * 3 + 3  # the tiny network's head for the three shape classes


def highlighted(window) -> list[str]:
    return [k for k, b in window.model_page.preset_buttons.items() if b.isChecked()]


def warnings(window) -> str:
    return " ".join(w.text() for w in window.model_page.findChildren(QLabel)
                    if not w.isHidden() and "never learn" in w.text())


def head_parameters(window) -> int:
    """The parameter count the tree shows on the head's row."""
    tree = window.model_page.tree.tree_model
    head = tree.find("head")
    text = tree.data(head.siblingAtColumn(2), Qt.ItemDataRole.DisplayRole)
    return int("".join(c for c in text if c.isdigit()))  # "12 810": digit groups


def test_a_resumed_run_reaches_every_page(qtbot, tiny_window, shapes_dir, monkeypatch):
    window = tiny_window
    slow = steps.Stepper.train  # a few ms per step, so Stop lands after the first epoch
    monkeypatch.setattr(steps.Stepper, "train",
                        lambda self, *a: (time.sleep(0.03), slow(self, *a))[1])
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    set_form(window, epochs=4, image_size=32, batch_size=8)
    form = window.train_page.form  # gradient steps in every epoch (an LP-FT probe epoch has none)
    form.probe_first.setCurrentIndex(form.probe_first.findData(False))
    train, evaluate, compare = window.train_page, window.evaluate_page, window.compare_page
    qtbot.mouseClick(train.start_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: train.plots.val_acc.n >= 1, timeout=60)
    with qtbot.waitSignal(train.run_finished, timeout=10_000) as stopped:
        qtbot.mouseClick(train.stop_button, Qt.MouseButton.LeftButton)
    run, status = stopped.args
    done = bundle.read_meta(run)["epochs_done"]
    assert status == "cancelled" and 1 <= done < 4
    wait_until(qtbot, lambda: evaluate.evaluation is not None and not evaluate.task.running)
    before = evaluate.evaluation
    window.show_step(5)
    wait_until(qtbot, lambda: run in compare.summaries)
    assert compare.table.text(run, "Status") == "cancelled"
    predictor = window.predict_page.cache.get(("run", run), [], None)
    steps_before = train.plots.step_raw.n

    window.show_step(2)
    with qtbot.waitSignal(train.run_finished, timeout=60_000) as resumed:
        qtbot.mouseClick(train.resume_button, Qt.MouseButton.LeftButton)
    assert resumed.args == [run, "completed"]
    meta = bundle.read_meta(run)
    # Train: the steps before the stop stay on the plot; the summary counts the whole run
    assert train.plots.step_raw.n == 4 * train._steps_per_epoch > steps_before
    assert "after 4 epochs in" in train.status.text()
    assert f"resumed after epoch {done}" in train.status.text()
    # Evaluate: evaluated again on the final weights, without pressing "Evaluate again"
    wait_until(qtbot, lambda: evaluate.evaluation is not before and not evaluate.task.running)
    fresh = evaluate_run(run).result
    assert (evaluate.evaluation.result.confusion == fresh.confusion).all()
    assert evaluate.source.text().endswith("(completed, 4 epochs)")
    # Compare: the row is read again (status, best accuracy, time)
    window.show_step(5)
    wait_until(qtbot, lambda: run in compare.summaries)
    assert compare.table.text(run, "Status") == "completed"
    assert compare.table.text(run, "Best acc") == with_mark(percent(meta["best"]["val_acc"]),
                                                            run_summary(run, evaluate=False))
    assert compare.summaries[run]["epochs"] == 4
    # Predict: the model is loaded again
    assert window.predict_page.cache.get(("run", run), [], None) is not predictor
    assert not dialogs.SHOWN, dialogs.SHOWN


def test_a_reopened_project_shows_its_own_head(qtbot, tiny_window, shapes_dir, monkeypatch,
                                               tmp_path):
    window = tiny_window
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    assert head_parameters(window) == HEAD_3
    path = tmp_path / "three.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.projects.save_project()
    window.projects.new_project()
    page = window.model_page  # a new project: the default network, two classes until a scan
    wait_until(qtbot, lambda: page.structure is not None and page.tree.isEnabled()
               and page.structure.num_classes == 2, timeout=30)

    # a network that builds slower than the folder is scanned (a large backbone): the scan
    # lands while the tree is still being built
    build = model_page.describe_structure
    monkeypatch.setattr(model_page, "describe_structure",
                        lambda *a: (time.sleep(1.5), build(*a))[1])
    assert window.projects.open_project(str(path))
    wait_until(qtbot, lambda: window.state.scan is not None, timeout=30)
    wait_until(qtbot, lambda: tree_built(window, classes=3), timeout=10)
    assert head_parameters(window) == HEAD_3
    assert not window.state.modified  # opening is no edit

    window.show_step(0)  # visiting the Data page changes nothing
    window.show_step(1)
    assert head_parameters(window) == HEAD_3


def test_the_preset_highlight_follows_the_tree(qtbot, tiny_window, shapes_dir, monkeypatch):
    window = tiny_window
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    page = window.model_page
    tree = page.tree.tree_model

    def tick(group: str, on: bool) -> None:
        state = Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
        tree.setData(tree.find(group), state.value, Qt.ItemDataRole.CheckStateRole)

    qtbot.mouseClick(page.preset_buttons["linear-probe"], Qt.MouseButton.LeftButton)
    assert highlighted(window) == ["linear-probe"] and "Custom" not in page.summary.text()
    tick("stage2", True)  # by hand: no longer a linear probe
    assert highlighted(window) == [] and "Custom" in page.summary.text()
    tick("stage2", False)  # back to exactly the preset
    assert highlighted(window) == ["linear-probe"]

    page.unfreeze.setValue(1)
    qtbot.mouseClick(page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    assert highlighted(window) == ["fine-tune"]
    tick("stem", True)
    assert highlighted(window) == [] and "Custom" in page.summary.text()

    # from scratch, a frozen layer would keep its random weights: said plainly
    qtbot.mouseClick(page.preset_buttons["scratch"], Qt.MouseButton.LeftButton)
    assert highlighted(window) == ["scratch"] and not warnings(window)
    tree.train_from(tree._item(tree.find("stage1")))
    assert highlighted(window) == []
    assert "232 frozen parameters keep their random" in warnings(window)
    assert window.state.config.model.trainable == ("stage1", "stage2", "head")


def test_a_new_project_is_clean_and_open_asks_before_choosing(qtbot, tiny_window, shapes_dir,
                                                              monkeypatch, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    window = tiny_window
    page = window.model_page
    wait_until(qtbot, lambda: page.structure is not None and page.tree.isEnabled(), timeout=30)
    # the tree filled in the layer selection the default preset implies: no edit of the user's
    assert window.state.config.model.trainable
    assert not window.state.modified and not window.isWindowModified()
    path = tmp_path / "p.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    window.train_page.form.epochs.setValue(3)  # a change of the user's
    assert window.state.modified and window.projects.save_project()
    window.train_page.form.epochs.setValue(4)
    seen = []
    answer = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: seen.append("ask") or answer[0])
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: seen.append("choose") or (str(path), ""))
    window.projects.open_project_dialog()
    assert seen == ["ask"]  # cancelled before any file chooser
    answer[0] = QMessageBox.StandardButton.Discard
    window.projects.open_project_dialog()
    assert seen == ["ask", "ask", "choose"]  # asked once, then chose
    assert window.state.config.train.epochs == 3 and not window.state.modified


def test_a_run_resumed_elsewhere_is_read_again_when_shown(qtbot, window, shapes_dir,
                                                          tmp_path):
    from runhelpers import StopAfter
    from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from transfer_gui.core.events import CancelToken
    from transfer_gui.core.train.loop import Trainer

    run, token = str(tmp_path / "run"), CancelToken()
    config = RunConfig(DataConfig(root=str(shapes_dir)), ModelConfig("tiny_cnn", "full"),
                       TrainConfig(epochs=3, batch_size=8, image_size=32))
    assert Trainer().fit(config, run, [StopAfter(token, 1)], token).status == "cancelled"
    evaluate, compare = window.evaluate_page, window.compare_page
    window.state.set_run(run)  # File > Open trained run
    window.show_step(3)
    wait_until(qtbot, lambda: evaluate.evaluation is not None and not evaluate.task.running)
    assert evaluate.source.text().endswith("(cancelled, 1 epoch)")
    first = evaluate.evaluation
    window.show_step(5)
    wait_until(qtbot, lambda: run in compare.summaries)
    assert compare.table.text(run, "Status") == "cancelled"

    Trainer().fit(None, run, [], resume=True)  # the command line resumes it
    window.show_step(3)
    wait_until(qtbot, lambda: evaluate.evaluation is not first and not evaluate.task.running)
    assert evaluate.source.text().endswith("(completed, 3 epochs)")
    window.show_step(5)
    wait_until(qtbot, lambda: compare.summaries.get(run, {}).get("status") == "completed")
    assert compare.table.text(run, "Status") == "completed"


def test_without_its_data_folder_a_project_shows_its_last_runs_head(qtbot, tiny_window,
                                                                   shapes_dir, monkeypatch,
                                                                   tmp_path):
    import json
    import shutil

    from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from transfer_gui.core.train.loop import Trainer

    window = tiny_window
    data = shutil.copytree(shapes_dir, tmp_path / "shapes")
    open_data(qtbot, window, data, monkeypatch)
    use_tiny(qtbot, window)
    run = str(tmp_path / "run")
    Trainer().fit(RunConfig(DataConfig(root=str(data)), ModelConfig("tiny_cnn", "full"),
                            TrainConfig(epochs=1, batch_size=8, image_size=32)), run, [])
    window.state.set_run(run)
    path = tmp_path / "p.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.projects.save_project()
    shutil.rmtree(data)  # the data folder is gone (an unplugged disk)
    dialogs.SHOWN.clear()
    assert window.projects.open_project(str(path))
    assert any("data folder" in message for _, message in dialogs.SHOWN)
    assert window.state.scan is None
    wait_until(qtbot, lambda: tree_built(window, classes=3), timeout=30)
    assert head_parameters(window) == HEAD_3
    assert json.loads(path.read_text())["last_run"]
