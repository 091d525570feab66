"""The Export dialog's benchmark: every format measured on the run's validation images, in
one table (size, latency per image at batch 1 and 32, accuracy, agreement with the run)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...worker import Job, start_job

COLUMNS = ("Format", "Size", "vs ONNX", "ms/image, 1", "ms/image, 32", "Accuracy", "Agreement")


def bench_cells(row: Any, base: int) -> list[str]:
    ratio = f"{row.size / base:.2f}×" if base else ""
    accuracy = "" if row.accuracy is None else f"{row.accuracy:.1%}"
    return [row.format, f"{row.size / 2**20:.2f} MiB", ratio, f"{row.ms_batch1:.1f}",
            f"{row.ms_batch32:.1f}", accuracy, f"{row.agreement:.1%}"]


class ExportBench(QWidget):
    """A button that measures every format of `run` in the background, and the table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run = ""
        self.task: Job | None = None
        self.rows: list[Any] = []
        self.button = QPushButton("Benchmark formats")
        self.button.setToolTip("Export the run in every format and measure each on its "
                               "validation images: size, speed on this computer's CPU, "
                               "accuracy and agreement with the run's model")
        self.button.clicked.connect(self.start)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setVisible(False)
        top = QHBoxLayout()
        top.addWidget(self.button)
        top.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.table)

    def set_run(self, run: str) -> None:
        if run != self.run:
            self.run = run
            self.table.setVisible(False)
            self.status.setText("")

    @Slot()
    def start(self) -> None:
        if self.task is not None or not self.run:
            return
        run = self.run

        def work(callbacks: list, cancel: Any) -> list:
            from ....core import benchmark_exports

            return benchmark_exports(run, callbacks=callbacks, cancel=cancel)

        self.task = start_job(work, "export-benchmark")
        self.task.succeeded.connect(self._on_measured)
        self.task.failed.connect(self._on_failed)
        self.task.done.connect(self._on_done)
        self.button.setEnabled(False)
        self.status.setText("Exporting and measuring every format (a minute or two)…")

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    @Slot(object)
    def _on_measured(self, rows: list) -> None:
        self.rows = rows
        base = next((r.size for r in rows if r.format == "onnx"), rows[0].size)
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(bench_cells(row, base)):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                if row.note:
                    item.setToolTip(row.note)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.table.setVisible(True)
        warned = [r.format for r in rows if r.note]
        self.status.setText(f"On {rows[0].images} validation images; latency on this "
                            "computer's CPU." + (f" Warning for {', '.join(warned)}: see its "
                                                 "tooltip." if warned else ""))

    @Slot(str, str)
    def _on_failed(self, message: str, _details: str) -> None:
        self.status.setText(f"Benchmark failed: {message}")

    @Slot()
    def _on_done(self) -> None:
        self.task = None
        self.button.setEnabled(True)
