"""The Train page's "Run on" choice."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

HERE, GPUS, CLUSTER = "here", "gpus", "cluster"


class RunOnBox(QWidget):
    """This computer in the app (the default); all GPUs of this computer (offered only when
    more than one is visible); or a cluster."""

    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.gpus = 0
        self.combo = QComboBox()
        self.combo.setObjectName("runOn")
        self.combo.setToolTip(
            "This computer: the run trains inside the app.\n"
            "All GPUs of this computer: one process per GPU (torchrun), followed here live.\n"
            "A cluster: writes a launch script and the run configuration to submit there.")
        label = QLabel("Run on")
        label.setBuddy(self.combo)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)
        layout.addWidget(self.combo, 1)
        self._fill()
        self.combo.currentIndexChanged.connect(lambda _i: self.changed.emit(self.choice()))

    def _fill(self) -> None:
        chosen = self.choice() if self.combo.count() else HERE
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("This computer (in the app)", HERE)
        if self.gpus > 1:
            self.combo.addItem(f"All {self.gpus} GPUs of this computer", GPUS)
        self.combo.addItem("A cluster (write a launch script)…", CLUSTER)
        index = self.combo.findData(chosen)
        self.combo.setCurrentIndex(max(index, 0))
        self.combo.blockSignals(False)

    def set_gpus(self, count: int) -> None:
        """How many GPUs this computer has (the GPUs choice needs more than one)."""
        before = self.choice()
        self.gpus = count
        self._fill()
        if self.choice() != before:
            self.changed.emit(self.choice())

    def choice(self) -> str:
        return str(self.combo.currentData() or HERE)

    def choose(self, choice: str) -> None:
        index = self.combo.findData(choice)
        if index >= 0:
            self.combo.setCurrentIndex(index)

    def start_text(self) -> str:
        """The Start button's words for the choice."""
        return {GPUS: f"Start on {self.gpus} GPUs", CLUSTER: "Write cluster script…"}.get(
            self.choice(), "Start training")
