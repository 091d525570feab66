"""The desktop application, driven through its widgets (pytest-qt, offscreen)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import (
    GapMeter,
    drop_files,
    open_data,
    set_form,
    start_and_wait,
    use_tiny,
    wait_for_tree,
    wait_until,
)
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.core.io import bundle
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.layers import group_of, layer_groups
from transfer_gui.core.train.loop import prepare
from transfer_gui.ui.widgets.notices import dialogs

pytestmark = pytest.mark.gui


@pytest.mark.slow
def test_whole_flow(qtbot, window, hard_shapes_dir, monkeypatch, tmp_path):
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    assert window.state.scan.classes == ["circle", "square", "triangle"]
    assert window.data_page.class_table.rowCount() == 3

    # Model: the bundled backbone, every layer trainable except the stem group
    window.show_step(1)
    wait_for_tree(qtbot, window)
    page = window.model_page
    assert page.current_row().name == "efficientnet_lite0"
    qtbot.mouseClick(page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    tree = page.tree.tree_model
    stem = tree.find("stem")
    assert tree.data(stem, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    tree.setData(stem, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert tree.data(stem, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert "stem" not in window.state.config.model.trainable
    # ... and the engine freezes exactly the stem
    prep = prepare(window.state.config)
    groups = layer_groups(get_spec("efficientnet_lite0"))
    frozen = {n for n, p in prep.model.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in prep.model.named_parameters()
                      if group_of(n, groups) == "stem"}

    # Train: two epochs, then the curves hold a point per step and per epoch
    window.show_step(2)
    set_form(window, epochs=2)
    run_dir, status = start_and_wait(qtbot, window)
    assert status == "completed"
    plots = window.train_page.plots
    meta = bundle.read_meta(run_dir)
    steps = 1 * -(-meta["split"]["train"] // 16)  # epoch 1 is the probe: no steps
    assert plots.step_raw.n == steps and plots.step_smooth.n == steps
    assert plots.val_acc.n == 2 and plots.train_acc.n == 2 and plots.val_loss.n == 2
    assert meta["trainable"] == list(window.state.config.model.trainable)

    # Evaluate: the matrix covers exactly the validation images
    wait_until(qtbot, lambda: window.evaluate_page.evaluation is not None)
    matrix = window.evaluate_page.matrix.matrix
    assert int(matrix.sum()) == meta["split"]["val"] == 9
    window.evaluate_page.matrix.cell_clicked.emit(0, 0)
    assert window.evaluate_page.cell_grid.model().rowCount() == int(matrix[0, 0])

    # Predict: drop an image, a label appears
    window.show_step(4)
    predict = window.predict_page
    image = sorted((hard_shapes_dir / "square").iterdir())[0]
    drop_files(predict.drop, [str(image)])
    wait_until(qtbot, lambda: len(predict.results) == 1 or bool(dialogs.SHOWN), 30)
    assert not dialogs.SHOWN, dialogs.SHOWN
    # the label the trained model gives this image, read through the engine on its own
    assert predict.labels() == [Predictor.from_run(run_dir, "cpu").predict_paths(
        [str(image)])[0].label]
    predict.export_csv(str(tmp_path / "out.csv"))
    assert (tmp_path / "out.csv").read_text().count("\n") == 2


def test_stop_ends_the_run_and_leaves_no_thread(qtbot, window, hard_shapes_dir, monkeypatch):
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    window.show_step(1)
    wait_for_tree(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    set_form(window, epochs=200)
    page = window.train_page
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    # stop in the middle of the second epoch (the first, the probe, has no steps)
    wait_until(qtbot, lambda: page.plots.val_acc.n >= 1 and page.plots.step_raw.n > 1,
               timeout=120)
    with qtbot.waitSignal(page.run_finished, timeout=5_000) as blocker:
        qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    run_dir, status = blocker.args
    assert status == "cancelled"
    wait_until(qtbot, lambda: not page.running, timeout=5)
    meta = bundle.load_run(run_dir).meta
    assert meta["status"] == "cancelled" and meta["epochs_done"] == 1
    assert page.start_button.isEnabled() and page.resume_button.isEnabled()


@pytest.mark.slow
def test_gui_thread_stays_responsive_while_training(qtbot, window, hard_shapes_dir, monkeypatch):
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    window.show_step(1)
    wait_for_tree(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    window.show_step(2)
    set_form(window, epochs=3, image_size=96)
    form = window.train_page.form
    form.augment.setCurrentIndex(form.augment.findData("light"))
    # no probe first: a probe that happens to solve the data would end the run after epoch 1,
    # and this test measures the GUI thread while every epoch fine-tunes
    form.probe_first.setCurrentIndex(form.probe_first.findData(False))
    meter = GapMeter()
    meter.start()
    _, status = start_and_wait(qtbot, window)
    meter.stop()
    print(f"\nworst GUI-thread gap while training: {meter.worst * 1000:.0f} ms "
          f"({meter.ticks} ticks)")
    assert status == "completed"
    assert meter.ticks > 50
    assert meter.worst < 0.4, f"the GUI thread stalled for {meter.worst * 1000:.0f} ms"


def test_worker_error_reaches_a_dialog_and_the_window_survives(qtbot, tiny_window, shapes_dir,
                                                                monkeypatch):
    window = tiny_window  # not about the network: the tiny one trains in a second
    open_data(qtbot, window, shapes_dir, monkeypatch)
    window.show_step(1)
    use_tiny(qtbot, window)
    set_form(window, epochs=1)
    from transfer_gui.core.train import loop as training

    original = training.Trainer.fit

    def broken(self, *args, **kwargs):
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(training.Trainer, "fit", broken)
    page = window.train_page
    with qtbot.waitSignal(page.run_failed, timeout=30_000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert any("the disk caught fire" in message for _, message in dialogs.SHOWN)
    wait_until(qtbot, lambda: page.start_button.isEnabled(), timeout=10)
    monkeypatch.setattr(training.Trainer, "fit", original)
    _, status = start_and_wait(qtbot, window)  # the window still works
    assert status == "completed"


def test_closing_while_training_stops_and_waits(qtbot, tiny_window, hard_shapes_dir,
                                                monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from transfer_gui.ui import worker

    window = tiny_window  # not about the network: the tiny one
    # data the probe does not solve, so fine-tuning's epochs run after it
    open_data(qtbot, window, hard_shapes_dir, monkeypatch)
    window.show_step(1)
    use_tiny(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["full"], Qt.MouseButton.LeftButton)
    set_form(window, epochs=200)
    page = window.train_page
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.plots.step_raw.n >= 1, timeout=120)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or
                        QMessageBox.StandardButton.Yes)
    window.state.set_modified(False)
    assert window.close()
    assert asked and "Stop training" in asked[0]
    assert not [t for t in worker.live_jobs() if t.qthread.isRunning()]


def test_layer_tree_tristate_and_context_actions(qtbot, window, shapes_dir, monkeypatch):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    page = window.model_page
    tree = page.tree.tree_model
    qtbot.mouseClick(page.preset_buttons["linear-probe"], Qt.MouseButton.LeftButton)
    stage7 = tree.find("stage7")
    block = tree.index(0, 0, stage7)  # _blocks.15
    conv = tree.index(0, 0, block)
    tree.setData(conv, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert tree.data(conv, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert tree.data(stage7, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.PartiallyChecked
    # a partial group becomes fully trainable when clicked
    tree.setData(stage7, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert tree.data(stage7, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert tree.data(block, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert window.state.config.model.trainable == ("stage7", "head")
    # "Train from here on" and "Freeze everything above this"
    tree.train_from(tree._item(tree.find("stage5")))
    assert window.state.config.model.trainable == ("stage5", "stage6", "stage7", "top", "head")
    tree.freeze_above(tree._item(tree.find("stage7")))
    assert window.state.config.model.trainable == ("stage7", "top", "head")
    assert "trainable" in page.summary.text() and "%" in page.summary.text()


def test_project_round_trip_and_missing_parts(qtbot, window, shapes_dir, monkeypatch,
                                              tmp_path):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    window.train_page.form.epochs.setValue(7)
    path = tmp_path / "mine.tgproj"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    assert window.projects.save_project()
    saved = json.loads(path.read_text())
    assert saved["config"]["train"]["epochs"] == 7
    assert saved["config"]["model"]["strategy"] == "fine-tune"
    assert "mine.tgproj" in window.windowTitle()

    window.projects.new_project()
    assert window.state.config.train.epochs is None
    assert window.projects.open_project(str(path))
    assert window.state.config.train.epochs == 7
    assert window.train_page.form.epochs.value() == 7
    wait_until(qtbot, lambda: window.state.scan is not None)

    saved["config"]["data"]["root"] = str(tmp_path / "gone")
    path.write_text(json.dumps(saved))
    dialogs.SHOWN.clear()
    assert window.projects.open_project(str(path))
    assert any("gone" in message for _, message in dialogs.SHOWN)
    assert "not found" in window.data_page.folder_label.text()


def test_window_appears_before_torch_is_imported():
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from transfer_gui.ui.app import create_app\n"
        "from transfer_gui.ui.main_window import MainWindow\n"
        "app = create_app([]); w = MainWindow(); w.show(); app.processEvents()\n"
        "print('torch' in sys.modules, w.isVisible())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split()[-2:] == ["False", "True"], out.stdout + out.stderr


def test_predict_before_training_uses_the_imagenet_head(qtbot, window, photo_dir):
    window.show_step(4)
    predict = window.predict_page
    assert "ImageNet" in predict.source.currentText()
    drop_files(predict.drop, [str(photo_dir / "coffee.jpg")])
    wait_until(qtbot, lambda: len(predict.results) == 1)
    assert predict.labels() == ["espresso"]


def test_dropping_a_folder_on_the_window_opens_it(qtbot, window, shapes_dir):
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        drop_files(window.data_page.drop_zone, [str(shapes_dir)])
    assert window.state.config.data.root == str(shapes_dir)
    assert window.data_page.summary.text().startswith("<b>3 classes</b>")


def test_large_folder_does_not_stall_the_window(qtbot, window, tmp_path):
    from PIL import Image

    for name, colour in (("red", (200, 30, 30)), ("blue", (30, 30, 200))):
        folder = tmp_path / "many" / name
        folder.mkdir(parents=True)
        for i in range(1000):
            Image.new("RGB", (24, 24), colour).save(folder / f"{i:04d}.png")
    meter = GapMeter()
    meter.start()
    with qtbot.waitSignal(window.state.scan_changed, timeout=120_000):
        window.data_page.open_folder(str(tmp_path / "many"))
    qtbot.wait(1500)  # thumbnails load while the window keeps painting
    meter.stop()
    print(f"\nworst GUI-thread gap while scanning 2000 images: {meter.worst * 1000:.0f} ms")
    grid = window.data_page.grid
    assert grid.model().rowCount() == 2000
    assert meter.worst < 0.4
    # only what is on screen was decoded, not the whole folder
    assert 0 < len(grid.loader._cache) < 400


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")  # loaded here
def test_export_from_the_window(qtbot, tiny_window, shapes_dir, monkeypatch, tmp_path):
    import torch

    window = tiny_window
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    set_form(window, epochs=1)
    start_and_wait(qtbot, window)
    shown = []
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.information",
                        lambda *a, **k: shown.append(a[2]))
    statuses = []
    window.state.status_message.connect(statuses.append)
    task = window.projects.export_to(str(tmp_path / "model.pt"), fmt="torchscript")
    assert window.projects.export_progress.isVisible()  # it says it is exporting
    with qtbot.waitSignal(task.succeeded, timeout=60_000):
        pass
    wait_until(qtbot, lambda: not window.projects.export_progress.isVisible(), 10)
    scripted = torch.jit.load(str(tmp_path / "model.pt"))
    assert scripted(torch.rand(1, 3, 64, 64)).shape == (1, 3)
    # the format the dialog chose by default, on the worker thread; the parity figure shown
    task = window.projects.export_to(str(tmp_path / "model.onnx"), fmt="onnx")
    with qtbot.waitSignal(task.succeeded, timeout=60_000):
        pass
    assert (tmp_path / "model.onnx").is_file() and (tmp_path / "model.labels.json").is_file()
    assert "largest difference" in statuses[-1] and "validation images" in statuses[-1]
    assert "model.preprocess.json" in shown[-1] and "tolerance" in shown[-1]
    # the web page: a folder, and a message that says how to use it
    task = window.projects.export_to(str(tmp_path / "page-web"), fmt="web")
    with qtbot.waitSignal(task.succeeded, timeout=60_000):
        pass
    assert (tmp_path / "page-web" / "index.html").is_file()
    assert "open it in a web browser" in shown[-1]


def test_bad_files_in_the_window(qtbot, window, tmp_path):
    """The real-world trouble corpus: the thumbnail grid marks unreadable files, the problems
    tab names them with reasons, training uses the rest, prediction reports each error."""
    import badcorpus

    corpus = badcorpus.build(tmp_path / "corpus")
    with qtbot.waitSignal(window.state.scan_changed, timeout=60_000):
        window.data_page.open_folder(str(corpus.root))
    table = window.data_page.problem_table
    listed = {table.item(r, 0).data(Qt.ItemDataRole.UserRole): table.item(r, 1).text()
              for r in range(table.rowCount())}
    for path in corpus.bad:
        if path == corpus.locked and os.geteuid() == 0:
            continue  # root reads it anyway
        assert str(path) in listed, path
    assert not any(str(p) in listed for p in corpus.ignored)
    # the grid shows only usable files; a file broken after the scan shows a "broken" tile
    grid = window.data_page.grid
    victim = corpus.usable()[0]
    victim.write_bytes(b"broken after the scan")
    grid.loader.pixmap(str(victim))
    qtbot.waitUntil(lambda: grid.loader.error(str(victim)) is not None, timeout=10_000)
    # training refuses nothing: it uses the usable files and finishes
    wait_for_tree(qtbot, window)
    set_form(window, epochs=1, image_size=48, batch_size=8)
    _, status = start_and_wait(qtbot, window)
    assert status == "completed"
    # prediction gives an error entry per bad file, a label for the others
    window.show_step(4)
    predict = window.predict_page
    bad = [str(p) for p in corpus.bad if p.is_file() and p != corpus.locked][:4]
    predict.add_paths([*bad, str(corpus.usable()[1])])
    wait_until(qtbot, lambda: len(predict.results) == len(bad) + 1)
    assert [r.error is not None for r in predict.results] == [True] * len(bad) + [False]


@pytest.mark.slow
def test_the_app_starts_and_quits_cleanly(tmp_path):
    """`transfer-gui` opens the window, loads the engine in the background and, closed at
    once, still exits cleanly (no thread left running at exit)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TRANSFER_GUI_QUIT_AFTER_SHOW": "1",
           "TRANSFER_GUI_DATA_DIR": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "transfer_gui"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Destroyed while thread" not in out.stderr


def test_every_part_of_the_project_has_its_signal(qtbot):
    from transfer_gui.core.config import DataConfig, ModelConfig, TrainConfig, TransferConfig
    from transfer_gui.ui.state import AppState

    state = AppState()
    changes = [
        (state.set_data, state.data_changed, DataConfig(root="elsewhere")),
        (state.set_model, state.model_changed, ModelConfig(strategy="full")),
        (state.set_train, state.train_changed, TrainConfig(epochs=3)),
        (state.set_transfer, state.transfer_changed,
         TransferConfig("joint", source_dir="other")),
    ]
    for setter, signal, part in changes:
        with qtbot.waitSignal(signal, timeout=100):
            setter(part)
        with qtbot.assertNotEmitted(signal):
            setter(part)  # the same again: no change, no signal
