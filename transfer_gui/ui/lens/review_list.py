"""The review of likely label errors: thumbnail, file, given and suggested class, confidence, and
what to do with the image (keep it, leave it out of training, or relabel it)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from ...core import thumbnail
from ..qimage import pil_to_qimage

KEEP = "Keep"
EXCLUDE = "Exclude from training"
ICON = 56
COLUMNS = ("", "File", "Given", "Suggested", "Confidence", "Decision")


def thumb_icon(path: str, size: int = ICON) -> QIcon:
    try:
        return QIcon(QPixmap.fromImage(pil_to_qimage(thumbnail(path, size))))
    except Exception:  # noqa: BLE001 - an unreadable image has no icon, only its name
        return QIcon()


def thumbnail_table(table: QTableWidget, columns: tuple[str, ...], icons: tuple[int, ...],
                    stretch: int) -> None:
    """Read-only rows tall enough for a thumbnail in each of the `icons` columns."""
    table.setColumnCount(len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setIconSize(QSize(ICON, ICON))
    table.verticalHeader().setDefaultSectionSize(ICON + 6)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    for column in icons:
        table.setColumnWidth(column, ICON + 12)
    table.horizontalHeader().setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)


class ReviewList(QTableWidget):
    """One row per flagged image. `marked(name, action)`: action "exclude", a class name to
    relabel as, or "" (keep)."""

    marked = Signal(str, str)
    activated = Signal(str)  # a row's file, double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        thumbnail_table(self, COLUMNS, (0,), 1)
        self.setColumnWidth(5, 230)
        self.names: list[str] = []
        self.paths: list[str] = []
        self.cellDoubleClicked.connect(lambda row, _c: self.activated.emit(self.paths[row]))

    def fill(self, rows: list[dict], paths: list[str], classes: list[str],
             decisions: dict[str, str]) -> None:
        """`rows` as `issue_rows` gives them, `paths` their files, `decisions` the review so far
        ({file: "exclude" or class})."""
        self.setRowCount(0)
        self.setRowCount(len(rows))
        self.names = [r["file"] for r in rows]
        self.paths = list(paths)
        for i, (row, path) in enumerate(zip(rows, paths, strict=True)):
            icon = QTableWidgetItem()
            icon.setIcon(thumb_icon(path))
            self.setItem(i, 0, icon)
            self.setItem(i, 1, QTableWidgetItem(row["file"]))
            self.setItem(i, 2, QTableWidgetItem(row["given"]))
            self.setItem(i, 3, QTableWidgetItem(row["suggested"]))
            confidence = QTableWidgetItem(f"{100 * row['confidence']:.0f} %")
            confidence.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(i, 4, confidence)
            self.setCellWidget(i, 5, self._decision(row, classes, decisions.get(row["file"], "")))

    def _decision(self, row: dict, classes: list[str], current: str) -> QComboBox:
        box = QComboBox()
        box.addItem(KEEP, "")
        box.addItem(EXCLUDE, "exclude")
        others = [row["suggested"], *(c for c in classes if c not in (row["given"],
                                                                      row["suggested"]))]
        for name in others:
            if name != row["given"]:
                box.addItem(f"Relabel as {name}", name)
        box.setCurrentIndex(max(0, box.findData(current)))
        name = row["file"]
        box.currentIndexChanged.connect(lambda _i: self.marked.emit(name, box.currentData()))
        return box

    def decision_box(self, row: int) -> QComboBox:
        widget = self.cellWidget(row, 5)
        assert isinstance(widget, QComboBox)
        return widget
