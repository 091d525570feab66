"""A cluster: the run configuration and a launch script written side by side, and the next step
said (the window starts nothing there)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core import Cluster, RunConfig, launch_next_step, save_run_config, write_launch_script


@dataclass(frozen=True)
class Written:
    config: Path
    script: Path
    next_step: str


def write_for_cluster(config: RunConfig, run_dir: str | Path, kind: str,
                      cluster: Cluster) -> Written:
    """Save `config` as `<run>.config.json` beside the run folder `run_dir` (which the job
    creates), and the `kind` launch script beside it."""
    run = Path(run_dir)
    run.parent.mkdir(parents=True, exist_ok=True)
    path = run.with_name(f"{run.name}.config.json")
    save_run_config(path, config)
    script = write_launch_script(kind, path, run, cluster)
    return Written(path, script, launch_next_step(kind, script, cluster))


class ClusterDialog(QDialog):
    """How the cluster job runs: SLURM or plain torchrun, nodes, GPUs each, time, partition."""

    def __init__(self, run_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on a cluster")
        self.kind = QComboBox()
        self.kind.addItem("SLURM (sbatch file)", "slurm")
        self.kind.addItem("torchrun script (start it on every node)", "torchrun")
        self.nodes = QSpinBox()
        self.nodes.setRange(1, 1024)
        self.gpus = QSpinBox()
        self.gpus.setRange(1, 64)
        self.gpus.setValue(4)
        self.hours = QDoubleSpinBox()
        self.hours.setRange(0.1, 24 * 14)
        self.hours.setValue(24)
        self.partition = QLineEdit()
        self.partition.setPlaceholderText("the cluster's default")
        self.cpus = QSpinBox()
        self.cpus.setRange(0, 1024)
        self.cpus.setSpecialValueText("the cluster's default")
        self.cpus.setToolTip("CPU cores to ask for on each node (SLURM --cpus-per-task); each "
                             "process sizes its threads to the cores it gets")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("derived (from the job)")
        self.port.setToolTip("The port the nodes meet at on the first node; by default "
                             "derived from the SLURM job id (or the run's name), so two jobs "
                             "on one node do not collide")
        form = QFormLayout()
        form.addRow("Script", self.kind)
        form.addRow("Computers (nodes)", self.nodes)
        form.addRow("GPUs each", self.gpus)
        form.addRow("Time limit (hours)", self.hours)
        form.addRow("Partition (SLURM)", self.partition)
        form.addRow("CPU cores per node", self.cpus)
        form.addRow("Rendezvous port", self.port)
        note = QLabel(f"The run folder will be {run_dir}. The configuration and the script are "
                      "written beside it; the data and the run folder must be on a disk every "
                      "node of the cluster sees.")
        note.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(buttons)

    def chosen(self) -> tuple[str, Cluster]:
        return str(self.kind.currentData()), Cluster(
            self.nodes.value(), self.gpus.value(), self.hours.value(),
            self.partition.text().strip(), self.cpus.value(), self.port.value())
