"""Near-duplicate and exact-duplicate pairs, both images side by side, with what makes a pair
worth a look: its two classes (a label error) or its two sides of the split (leakage)."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem, QWidget

from .review_list import ICON, thumbnail_table
from .thumbs import TableThumbnails

COLUMNS = ("First", "", "Second", "", "Cosine", "Why it matters")


def concern(row: dict) -> str:
    if row["kind"] == "exact":
        return "identical files" + (" in two classes" if row["across_classes"] else "")
    words = []
    if row["across_classes"]:
        words.append(f"two classes ({row['first_class']}, {row['second_class']})")
    if row["across_split"]:
        words.append("training and validation: leakage")
    return "; ".join(words) or "same class and side"


class DuplicateList(QTableWidget):
    activated = Signal(str)  # a file, double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        thumbnail_table(self, COLUMNS, (0, 2), 5)
        for column in (1, 3):  # the files: room for a folder and a name
            self.setColumnWidth(column, 240)
        self.files: list[tuple[str, str]] = []
        self.thumbs = TableThumbnails(self, ICON)  # decoded off the GUI thread, rows in view
        self.cellDoubleClicked.connect(self._on_double_clicked)

    def fill(self, rows: list[dict], root: str) -> None:
        self.setRowCount(0)
        self.setRowCount(len(rows))
        self.files = []
        for i, row in enumerate(rows):
            first = os.path.join(root, row["first"])
            second = os.path.join(root, row["second"])
            self.files.append((first, second))
            for column, text in ((0, row["first"]), (2, row["second"])):
                self.setItem(i, column, QTableWidgetItem())
                self.setItem(i, column + 1, QTableWidgetItem(text))
            self.setItem(i, 4, QTableWidgetItem(f"{row['similarity']:.3f}"
                                                if row["kind"] == "near" else "exact"))
            self.setItem(i, 5, QTableWidgetItem(concern(row)))
        self.thumbs.set_cells([(i, column, path) for i, pair in enumerate(self.files)
                               for column, path in zip((0, 2), pair, strict=True)])

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.thumbs.request_visible()

    def _on_double_clicked(self, row: int, column: int) -> None:
        first, second = self.files[row]
        path = second if column in (2, 3) and second else first
        self.activated.emit(path)
