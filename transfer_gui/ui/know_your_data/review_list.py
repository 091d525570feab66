"""The review of likely label errors: thumbnail, file, given and suggested class, confidence, and
what to do with the image (keep it, leave it out of training, or relabel it).

The thumbnails are decoded off the GUI thread for the rows in view (`TableThumbnails`); the
Decision column is text drawn by the table, and a list box only while a cell is edited (a
delegate), not a widget per row."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from .thumbs import TableThumbnails

KEEP = "Keep"
EXCLUDE = "Exclude from training"
ICON = 56
COLUMNS = ("", "File", "Given", "Suggested", "Given label", "Decision")
DECISION = 5
ChoicesRole = Qt.ItemDataRole.UserRole + 1  # [(text, value)] a row's decision offers
ValueRole = Qt.ItemDataRole.UserRole + 2  # "" keep, "exclude", or the class to relabel as
Index = QModelIndex | QPersistentModelIndex


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


class DecisionDelegate(QStyledItemDelegate):
    """A list box over the Decision cell while it is edited; its choice is committed at once."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: Index) -> QWidget:
        box = QComboBox(parent)
        for text, value in index.data(ChoicesRole) or []:
            box.addItem(text, value)
        box.currentIndexChanged.connect(lambda _i: self.commitData.emit(box))
        return box

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        editor.blockSignals(True)
        editor.setCurrentIndex(max(0, editor.findData(index.data(ValueRole) or "")))
        editor.blockSignals(False)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentData(), ValueRole)
        model.setData(index, editor.currentText(), Qt.ItemDataRole.DisplayRole)


class ReviewList(QTableWidget):
    """One row per flagged image. `marked(name, action)`: action "exclude", a class name to
    relabel as, or "" (keep)."""

    marked = Signal(str, str)
    activated = Signal(str)  # a row's file, double-clicked

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        thumbnail_table(self, COLUMNS, (0,), 1)
        self.setColumnWidth(DECISION, 230)
        self.setItemDelegateForColumn(DECISION, DecisionDelegate(self))
        self.setEditTriggers(QAbstractItemView.EditTrigger.SelectedClicked
                             | QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.thumbs = TableThumbnails(self, ICON)
        self.names: list[str] = []
        self.paths: list[str] = []
        self._filling = False
        self.cellDoubleClicked.connect(self._on_double_clicked)
        self.itemChanged.connect(self._on_item_changed)

    def fill(self, rows: list[dict], paths: list[str], classes: list[str],
             decisions: dict[str, str]) -> None:
        """`rows` as `issue_rows` gives them, `paths` their files, `decisions` the review so far
        ({file: "exclude" or class})."""
        self._filling = True
        self.setRowCount(0)
        self.setRowCount(len(rows))
        self.names = [r["file"] for r in rows]
        self.paths = list(paths)
        for i, row in enumerate(rows):
            self.setItem(i, 0, _fixed(""))
            self.setItem(i, 1, _fixed(row["file"]))
            self.setItem(i, 2, _fixed(row["given"]))
            self.setItem(i, 3, _fixed(row["suggested"]))
            # the probe's probability of the given label: the list is ranked by it, lowest
            # first (the suggested class's probability is in the tooltip)
            confidence = _fixed(f"{100 * row['given_probability']:.0f} %")
            confidence.setToolTip(f"The probe gives the given label {row['given_probability']:.0%} "
                                  f"and {row['suggested']} {row['confidence']:.0%}")
            confidence.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.setItem(i, 4, confidence)
            self.setItem(i, DECISION, _decision(row, classes, decisions.get(row["file"], "")))
        self._filling = False
        self.thumbs.set_cells([(i, 0, path) for i, path in enumerate(paths)])

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == DECISION:
            self.marked.emit(self.names[item.row()], item.data(ValueRole) or "")

    def _on_double_clicked(self, row: int, column: int) -> None:
        if column != DECISION:
            self.activated.emit(self.paths[row])

    def decision_box(self, row: int) -> QComboBox:
        """The list box of a row's decision, opened as a click on the cell opens it."""
        item = self.item(row, DECISION)
        assert item is not None
        self.setCurrentItem(item)
        self.openPersistentEditor(item)
        widget = self.cellWidget(row, DECISION)
        assert isinstance(widget, QComboBox)
        return widget

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.thumbs.request_visible()


def _fixed(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def _decision(row: dict, classes: list[str], current: str) -> QTableWidgetItem:
    choices = [(KEEP, ""), (EXCLUDE, "exclude")]
    others = [row["suggested"], *(c for c in classes if c not in (row["given"],
                                                                  row["suggested"]))]
    choices += [(f"Relabel as {name}", name) for name in others if name != row["given"]]
    text = next((t for t, v in choices if v == current), KEEP)
    item = QTableWidgetItem(text)
    item.setData(ChoicesRole, choices)
    item.setData(ValueRole, current if text != KEEP else "")
    item.setToolTip("Click to choose: keep, leave out of training, or relabel")
    return item
