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

from ....core import RunError, RunInfo, run_info
from .export_bench import ExportBench

# format, its name in the dialog, the file filter, how the file is used
FORMATS = (
    ("onnx", "ONNX", "ONNX (*.onnx)",
     "For onnxruntime or any other ONNX runtime; PyTorch is not needed to use it."),
    ("onnx-int8", "ONNX int8", "int8 ONNX (*.int8.onnx)",
     "For onnxruntime: weights and activations in 8 bits (about a quarter of the size), "
     "calibrated on the run's training images; measured on its validation images before it "
     "is kept (a warning says when it loses more than a point of accuracy)."),
    ("ort", "ONNX Runtime mobile (ORT)", "ORT format (*.ort)",
     "For ONNX Runtime on phones and small devices (Android, iOS; onnxruntime-mobile): the "
     "ONNX model with the optimisations every device can run, in ONNX Runtime's own format."),
    ("torch-export", "torch.export", "torch.export archive (*.pt2)",
     "For PyTorch: torch.export.load(path).module()."),
    ("torchscript", "TorchScript", "TorchScript (*.pt *.ts)",
     "For PyTorch: torch.jit.load(path)."),
    ("web", "Web page", "Folder (*)",
     "A folder whose index.html classifies images (dropped, chosen or from the camera) in a "
     "web browser with onnxruntime-web: offline when the runtime is found "
     "($TRANSFER_GUI_ORT_WEB or ~/.cache/transfer_gui/ort-web), else the page needs a "
     "network."),
)


def _stem(path: str) -> str:
    """`path` without the ending of any export format (`.int8.onnx` whole)."""
    from ....core import EXPORT_SUFFIXES

    for suffix in sorted(EXPORT_SUFFIXES.values(), key=len, reverse=True):
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return os.path.splitext(path)[0]


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
        self.format = QComboBox()
        self.format.setToolTip("The kind of file to write")
        for fmt, name, *_ in FORMATS:
            self.format.addItem(name, fmt)
        self.about = QLabel()
        self.about.setWordWrap(True)
        self.path = QLineEdit()
        self.path.setToolTip("The model file to write; two small JSON files go beside it")
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
        form.addRow("Format", self.format)
        form.addRow("", self.about)
        form.addRow("Save as", row)
        self.bench = ExportBench()
        form.addRow("Compare", self.bench)
        form.addRow(buttons)
        self.finished.connect(self.bench.cancel)
        self.run.currentIndexChanged.connect(self._on_run_changed)
        self.format.currentIndexChanged.connect(self._on_format_changed)
        self.path.textChanged.connect(self._describe)
        self.run.setCurrentIndex(max(0, self.run.findData(current)))
        self._on_run_changed()
        self.resize(620, self.sizeHint().height())

    def info(self) -> RunInfo:
        return self.runs[self.run.currentIndex()][1]

    def chosen(self) -> tuple[str, str, str]:
        """(run folder, output file, format)."""
        return self.run.currentData(), self.path.text().strip(), self.format.currentData()

    def _format_row(self) -> tuple[str, str, str, str]:
        return FORMATS[self.format.currentIndex()]

    def _suffix(self) -> str:
        from ....core import EXPORT_SUFFIXES

        return EXPORT_SUFFIXES[self.format.currentData()]

    @Slot()
    def _on_run_changed(self, *_: object) -> None:
        self.bench.set_run(self.run.currentData())
        self._describe()
        folder = os.path.dirname(self.path.text()) or self.folder
        name = os.path.basename(os.path.normpath(self.run.currentData()))
        self.path.setText(os.path.join(folder, f"{name}{self._suffix()}"))

    @Slot()
    def _on_format_changed(self, *_: object) -> None:
        self._describe()
        stem = _stem(self.path.text().strip())
        if stem:
            self.path.setText(f"{stem}{self._suffix()}")

    @Slot()
    def _describe(self, *_: object) -> None:
        from ....core import export_description

        info = self.info()
        try:
            described = export_description(info.folder)
        except (RunError, OSError, ValueError) as exc:
            described = str(exc)
        if self.format.currentData() == "web":
            self.about.setText(f"Input: {described}. {self._format_row()[3]} Before it is "
                               "kept, the model is run on validation images and compared "
                               "with the run's model.")
            return
        name = os.path.splitext(os.path.basename(self.path.text().strip()))[0] or "NAME"
        self.about.setText(
            f"Input: {described}. "
            f"{self._format_row()[3]} Beside the file go "
            f"{name}.labels.json (the class names) and {name}.preprocess.json (resizing, "
            "crop, mean and std; each output's classes and thresholds). Before it is kept, "
            "the file is run on validation images and compared with the run's model.")

    @Slot()
    def _on_browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export model", self.path.text(),
                                              f"{self._format_row()[2]};;All files (*)")
        if path:
            self.path.setText(path)
