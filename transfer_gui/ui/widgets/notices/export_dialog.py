"""File > Export model: which run, where to, and what the exported file expects."""

from __future__ import annotations

import os

from PySide6.QtCore import QStandardPaths, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from ....core import RunError, RunInfo, count, run_info

FILTER = "TorchScript (*.pt *.ts);;All files (*)"


def exportable_runs(runs: list[str]) -> list[tuple[str, RunInfo]]:
    """The runs with saved weights and readable metadata, newest first."""
    found = []
    for run in dict.fromkeys(reversed(runs)):  # newest first, each once
        try:
            info = run_info(run)
        except RunError:
            continue
        if info.weights:
            found.append((run, info))
    return found


def run_caption(info: RunInfo) -> str:
    acc = info.best_val_acc
    parts = [info.name, info.strategy, f"validation {acc:.1%}" if acc is not None else ""]
    return " · ".join(p for p in parts if p)


def default_folder(project_path: str | None) -> str:
    """Beside a saved project; else the user's Documents folder (never a hidden one)."""
    if project_path:
        return os.path.dirname(os.path.abspath(project_path))
    documents = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.DocumentsLocation)
    return documents if documents and os.path.isdir(documents) else os.path.expanduser("~")


class ExportDialog(QDialog):
    """`chosen()` gives (run folder, output file) once accepted."""

    def __init__(self, runs: list[tuple[str, RunInfo]], current: str, project_path: str | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export model")
        self.runs = runs
        self.folder = default_folder(project_path)
        self.run = QComboBox()
        self.run.setToolTip("The trained run whose model is exported")
        for run, info in runs:
            self.run.addItem(run_caption(info), run)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setToolTip("The TorchScript file to write")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Run", self.run)
        form.addRow("", self.about)
        form.addRow("Save as", row)
        form.addRow(buttons)
        self.run.currentIndexChanged.connect(self._on_run_changed)
        self.run.setCurrentIndex(max(0, self.run.findData(current)))
        self._on_run_changed()
        self.resize(620, self.sizeHint().height())

    def info(self) -> RunInfo:
        return self.runs[self.run.currentIndex()][1]

    def chosen(self) -> tuple[str, str]:
        return self.run.currentData(), self.path.text().strip()

    @Slot()
    def _on_run_changed(self, *_: object) -> None:
        info = self.info()
        size = info.image_size
        self.about.setText(
            f"Input: RGB images of {size} × {size} pixels, values in [0, 1] (a tensor of shape "
            f"N × 3 × {size} × {size}); output: logits for "
            f"{count(len(info.classes), 'class')}, whose names are stored in the file.")
        folder = os.path.dirname(self.path.text()) or self.folder
        name = os.path.basename(os.path.normpath(self.run.currentData()))
        self.path.setText(os.path.join(folder, f"{name}.torchscript.pt"))

    @Slot()
    def _on_browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export model", self.path.text(), FILTER)
        if path:
            self.path.setText(path)
