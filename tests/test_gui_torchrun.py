"""The Train page's "Run on": this computer, all of its GPUs (only with more than one), or a
cluster (the run configuration and a launch script written, the next step said)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui_helpers import open_data
from transfer_gui.core import load_run_config
from transfer_gui.ui.torchrun import cluster
from transfer_gui.ui.torchrun.run_on import CLUSTER, GPUS, HERE

pytestmark = pytest.mark.gui


def choices(box) -> list[str]:
    return [box.combo.itemData(i) for i in range(box.combo.count())]


def test_all_gpus_is_offered_only_with_more_than_one(qtbot, window) -> None:
    page = window.train_page
    box = page.run_on
    assert choices(box) == [HERE, CLUSTER]  # no GPU here: the app's own thread, or a cluster
    box.set_gpus(1)
    assert choices(box) == [HERE, CLUSTER]
    box.set_gpus(4)
    assert choices(box) == [HERE, GPUS, CLUSTER]
    box.combo.setFocus()
    qtbot.keyClick(box.combo, Qt.Key.Key_Down)  # the user picks the next entry
    assert box.choice() == GPUS and page.start_button.text() == "Start on 4 GPUs"
    box.set_gpus(1)  # the GPUs went away: back to this computer
    assert box.choice() == HERE and page.start_button.text() == "Start training"


def test_a_cluster_run_writes_the_configuration_and_a_script(qtbot, window, shapes_dir,
                                                             monkeypatch) -> None:
    open_data(qtbot, window, shapes_dir, monkeypatch)
    page = window.train_page
    page.run_on.choose(CLUSTER)
    assert page.start_button.text() == "Write cluster script…"
    told: list[str] = []
    monkeypatch.setattr(cluster.ClusterDialog, "exec", lambda self: (
        self.nodes.setValue(2), self.gpus.setValue(8), True)[-1])
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: told.append(text))
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert len(told) == 1 and "sbatch" in told[0]
    script = Path(told[0].split("\n")[0])
    text = script.read_text()
    assert "#SBATCH --nodes=2" in text and "--nproc-per-node=8" in text
    if shutil.which("bash"):
        subprocess.run(["bash", "-n", str(script)], check=True)
    config = script.with_name(script.name.removesuffix(".slurm.sh") + ".json")
    assert load_run_config(config).data.root == window.state.config.data.root
    assert not page.running and not window.state.training  # nothing runs here


def test_all_gpus_starts_torchrun_and_follows_the_run(qtbot, window, shapes_dir,
                                                      monkeypatch) -> None:
    from transfer_gui.ui.torchrun import local

    started: list[list[str]] = []
    monkeypatch.setattr(local.LocalLaunch, "start", lambda self: started.append(self.command))
    monkeypatch.setattr(local.LocalLaunch, "running", property(lambda self: True))
    open_data(qtbot, window, shapes_dir, monkeypatch)
    page = window.train_page
    page.run_on.set_gpus(2)
    page.run_on.choose(GPUS)
    watched: list[str] = []
    monkeypatch.setattr(window, "watch_run", lambda folder: watched.append(folder))
    page.watch_requested.disconnect()
    page.watch_requested.connect(window.watch_run)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    assert len(started) == 1 and watched == [page.run_dir]
    command = started[0]
    assert "torch.distributed.run" in command and "--nproc-per-node=2" in command
    config = Path(command[command.index("--config") + 1])
    assert load_run_config(config).data.root == window.state.config.data.root
    assert page.running and window.state.training and not page.start_button.isEnabled()
    stopped: list[bool] = []
    monkeypatch.setattr(local.LocalLaunch, "stop", lambda self: stopped.append(True))
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    assert stopped == [True]
    page.elsewhere.finished.emit(130)  # torchrun ended after the stop
    assert not page.running and not window.state.training


def test_all_gpus_when_torchrun_cannot_start_says_so_and_stops_training(
        qtbot, window, shapes_dir, tmp_path, monkeypatch) -> None:
    """The launcher's program is missing (a broken environment, an app bundle started the
    wrong way): QProcess never finishes, so the page must hear its error."""
    from transfer_gui.ui.pages import train_page
    from transfer_gui.ui.torchrun import local

    missing = str(tmp_path / "no-python-here")
    monkeypatch.setattr(local, "local_launch_command", lambda n, c, o: [missing, "-m", "x"])
    errors: list[tuple[str, str]] = []
    monkeypatch.setattr(train_page, "show_error", lambda _p, title, text, *a: errors.append(
        (title, text)))
    open_data(qtbot, window, shapes_dir, monkeypatch)
    page = window.train_page
    page.watch_requested.disconnect()  # no watch window for this test
    page.run_on.set_gpus(2)
    page.run_on.choose(GPUS)
    qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=10_000)
    assert not window.state.training and page.start_button.isEnabled()
    assert errors and errors[0][0] == "Cannot start training" and missing in errors[0][1]
    assert "Could not start" in page.status.text()
    assert missing in page.log.toPlainText()
