"""TensorBoard logs: every strategy's scalars and the confusion matrix, read back with
TensorBoard's own reader; resumed runs continue the same log; the command line's
`--tensorboard`; a missing tensorboard package refused clearly; the Train page's box."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from gui_helpers import open_data, set_form, start_and_wait, use_tiny
from runhelpers import StopAfter
from runhelpers import tiny_config as config
from transfer_gui.cli import main
from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.confusion import confusion_image
from transfer_gui.core.events import CancelToken, Message, Recorder
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.tboard import INSTALL, TensorBoardMissing

EPOCH_TAGS = {"loss/train", "loss/validation", "accuracy/train", "accuracy/validation",
              "epoch/images_per_s", "epoch/seconds"}
CONFUSION = "confusion_matrix/validation"


def read(folder: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def values(acc, tag: str) -> list[tuple[int, float]]:
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def check_epochs(acc, result, epochs: int) -> None:
    """One value per epoch for each per-epoch tag, accuracies in [0, 1], the recorded rates."""
    scalars = set(acc.Tags()["scalars"])
    assert scalars >= EPOCH_TAGS
    for tag in EPOCH_TAGS:
        assert [s for s, _ in values(acc, tag)] == list(range(1, epochs + 1)), tag
    rows = {r["epoch"]: r for r in result.history}
    for tag, key in (("accuracy/train", "train_acc"), ("accuracy/validation", "val_acc")):
        for step, value in values(acc, tag):
            assert value == pytest.approx(rows[step][key]), (tag, step)
    if "epoch/learning_rate" in scalars:
        assert [v for _, v in values(acc, "epoch/learning_rate")] == pytest.approx(
            [r["lr"] for r in result.history])


def check_confusion(acc, epoch: int, classes=("circle", "square", "triangle")) -> None:
    assert CONFUSION in acc.Tags()["images"]
    (image,) = acc.Images(CONFUSION)
    height, width, _ = confusion_image(np.zeros((3, 3), np.int64), list(classes)).shape
    assert (image.step, image.width, image.height) == (epoch, width, height)


def test_a_run_logs_its_curves_and_confusion_matrix(shapes_dir, tmp_path):
    logs = tmp_path / "tb" / "run"
    cfg = config(shapes_dir, "fine-tune", epochs=2, probe_first=False)
    result = Trainer().fit(cfg, tmp_path / "run", tensorboard=logs)
    assert result.status == "completed"
    acc = read(logs)
    check_epochs(acc, result, 2)
    steps = values(acc, "step/loss")
    per_epoch = len(steps) // 2
    assert [s for s, _ in steps] == list(range(1, 2 * per_epoch + 1)) and per_epoch >= 4
    assert all(v > 0 for _, v in steps)
    lrs = values(acc, "step/learning_rate")
    assert lrs[per_epoch - 1][1] == pytest.approx(result.history[0]["lr"])  # the epoch's last
    check_confusion(acc, 2)
    assert "run/config/text_summary" in acc.Tags()["tensors"]  # the configuration, as text


def test_a_log_folder_that_cannot_be_written_costs_a_warning_not_the_run(shapes_dir, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    rec = Recorder()
    result = Trainer().fit(config(shapes_dir, epochs=1), tmp_path / "run", [rec],
                           tensorboard=blocked / "run")
    assert result.status == "completed"
    assert any("this run is not logged" in m.text for m in rec.of(Message))


@pytest.mark.parametrize("classes", [3, 60])
def test_the_confusion_image_has_counts_and_room_for_many_classes(classes):
    names = [f"class number {i}" for i in range(classes)]
    matrix = np.diag(np.arange(1, classes + 1))
    image = confusion_image(matrix, names)
    assert image.dtype == np.uint8 and image.shape[2] == 3
    assert max(image.shape[:2]) < 1100
    assert image.shape == confusion_image(np.zeros_like(matrix), names).shape
    assert (image < 100).all(axis=2).any()  # dark cells (the diagonal) and text


@pytest.mark.slow
def test_a_probe_first_run_stopped_and_resumed_continues_its_log(shapes_dir, tmp_path):
    logs, run = tmp_path / "tb" / "run", tmp_path / "run"
    cfg = config(shapes_dir, "fine-tune", epochs=3)  # LP-FT: epoch 1 is the probe
    token = CancelToken()
    stopped = Trainer().fit(cfg, run, [StopAfter(token, 2)], cancel=token, tensorboard=logs)
    assert stopped.status == "cancelled"
    assert CONFUSION not in read(logs).Tags()["images"]  # only a run that ends well has one
    result = Trainer().fit(None, run, resume=True, tensorboard=logs)
    assert result.status == "completed"
    acc = read(logs)
    check_epochs(acc, result, 3)
    assert values(acc, "epoch/learning_rate")[0][1] == 0.0  # the probe: no step of the run's
    steps = [s for s, _ in values(acc, "step/loss")]  # epochs 2 and 3: the probe takes none
    assert steps == list(range(1, len(steps) + 1)) and len(steps) % 2 == 0  # each step once
    check_confusion(acc, 3)


@pytest.mark.parametrize("strategy", ["logistic", "knn"])
def test_a_classic_head_logs_its_one_epoch(shapes_dir, tmp_path, strategy):
    logs = tmp_path / "tb"
    result = Trainer().fit(config(shapes_dir, strategy), tmp_path / "run", tensorboard=logs)
    acc = read(logs)
    check_epochs(acc, result, 1)
    scalars = set(acc.Tags()["scalars"])
    assert "epoch/learning_rate" not in scalars and "step/loss" not in scalars
    check_confusion(acc, 1)


@pytest.mark.parametrize("mode", ["coral", "joint"])
def test_a_second_folder_run_logs_its_epochs(tmp_path, mode):
    """Adaptation towards labelled target images adds the target accuracy; joint training
    (validated on the run's own folder) logs what any run does."""
    from imagegen import make_dataset
    from transfer_gui.core.config import TransferConfig

    source = make_dataset(tmp_path / "source", per_class=8, size=40)
    target = make_dataset(tmp_path / "target", per_class=8, size=40, seed=1, invert=True)
    transfer = (TransferConfig("coral", target_dir=str(target)) if mode == "coral" else
                TransferConfig("joint", source_dir=str(source)))
    cfg = RunConfig(DataConfig(root=str(source if mode == "coral" else target), val_split=0.25,
                               seed=5),
                    ModelConfig(backbone="tiny_cnn", strategy="full"),
                    TrainConfig(epochs=2, batch_size=8, probe_first=False, num_workers=0),
                    transfer)
    result = Trainer().fit(cfg, tmp_path / "run", tensorboard=tmp_path / "tb")
    acc = read(tmp_path / "tb")
    check_epochs(acc, result, 2)
    assert values(acc, "step/loss")
    if mode == "coral":
        target_acc = values(acc, "accuracy/target")
        assert target_acc == [(row["epoch"], pytest.approx(row["target_acc"]))
                              for row in result.history]
    else:
        assert "accuracy/target" not in acc.Tags()["scalars"]
    check_confusion(acc, 2)


def test_the_command_line_logs_under_the_run_folder_name(shapes_dir, tmp_path, capsys):
    run = tmp_path / "my-run"
    code = main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--batch-size", "8", "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    out = capsys.readouterr().err  # messages go to stderr
    assert f"TensorBoard logs: {tmp_path / 'tb' / 'my-run'}" in out
    assert f"tensorboard --logdir {tmp_path / 'tb'}" in out
    acc = read(tmp_path / "tb" / "my-run")
    assert values(acc, "accuracy/validation")


def test_compare_logs_each_strategy(shapes_dir, tmp_path, capsys):
    code = main(["compare", str(shapes_dir), "--out", str(tmp_path / "cmp"), "--strategies",
                 "logistic,knn", "--backbone", "tiny_cnn", "--tensorboard", str(tmp_path / "tb")])
    assert code == 0
    for strategy in ("logistic", "knn"):
        assert values(read(tmp_path / "tb" / "cmp" / strategy), "accuracy/validation")


def test_without_tensorboard_nothing_trains(shapes_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # `import tensorboard` fails
    run = tmp_path / "run"
    code = main(["train", str(shapes_dir), "--out", str(run), "--backbone", "tiny_cnn",
                 "--epochs", "1", "--tensorboard", str(tmp_path / "tb")])
    err = capsys.readouterr().err
    assert code == 1 and INSTALL in err
    assert not run.exists() and not (tmp_path / "tb").exists()
    with pytest.raises(TensorBoardMissing, match=r'pip install -e "\.\[tensorboard\]"'):
        Trainer().fit(config(shapes_dir), run, tensorboard=tmp_path / "tb")
    assert not run.exists()


@pytest.mark.gui
def test_the_train_page_box_is_disabled_without_tensorboard(window, monkeypatch):
    box = window.train_page.tensorboard
    assert box.isEnabled() and box.text() == "Log to TensorBoard"
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    window.state.engine_ready.emit()
    assert not box.isEnabled() and INSTALL in box.toolTip()
    box.setChecked(True)
    assert window.train_page.tensorboard.log_dir("somewhere/run") is None


@pytest.mark.gui
def test_a_run_from_the_window_logs_beside_the_project(qtbot, tiny_window, shapes_dir,
                                                       tmp_path, monkeypatch):
    from transfer_gui.core.io.project import load_project, save_project

    window = tiny_window
    open_data(qtbot, window, shapes_dir, monkeypatch)
    use_tiny(qtbot, window)
    set_form(window, epochs=1)
    save_project(window.state.project, tmp_path / "proj" / "p.tgproj")
    box = window.train_page.tensorboard
    box.setChecked(True)
    assert window.state.project.extra["tensorboard"] is True and window.state.modified
    run, status = start_and_wait(qtbot, window)
    assert status == "completed"
    logs = tmp_path / "proj" / "tensorboard" / Path(run).name
    assert list(logs.glob("events.out.tfevents.*"))
    assert f"TensorBoard logs: {logs}" in window.train_page.log.toPlainText()
    assert CONFUSION in read(logs).Tags()["images"]
    save_project(window.state.project, tmp_path / "proj" / "p.tgproj")  # kept with the project
    box.setChecked(False)
    window.state.load_project(load_project(tmp_path / "proj" / "p.tgproj"))
    assert box.isChecked() and not window.state.modified
