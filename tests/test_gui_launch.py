"""The Train page's "Run on": this computer, all of its GPUs (only with more than one), or a
cluster (the run configuration and a launch script written, the next step said)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui_helpers import open_data
from transfer_gui.core import load_run_config
from transfer_gui.ui.launch import cluster
from transfer_gui.ui.launch.run_on import CLUSTER, GPUS, HERE


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
