"""The labelling grid: thumbnails of a pool's images with their label or the probe's suggestion.

Model/view over a list of file names: the view asks only for the rows it shows, thumbnails
are decoded off the GUI thread (`ThumbnailLoader`), and every tile's caption is looked up
when painted, so 20,000 images cost a list of names. The grid handles no keys itself: the
page decides what a key means (`key_pressed`), the grid just moves and selects.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QListView, QWidget

from .image_grid import ThumbnailLoader, _placeholder

THUMB = 96
FileRole = Qt.ItemDataRole.UserRole + 1
TINTS = ("#dbe7fb", "#fde2cf", "#d8f0d8", "#f6d6e6", "#e7defa", "#fbf1c7", "#d6f0ef",
         "#ece3d8", "#e2e5ea", "#f3dada")

# (label, suggestion, confidence) of a file; label None: unlabelled; suggestion None: none
Describe = Callable[[str], tuple[str | None, str | None, float]]


class LabelModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, describe: Describe,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.describe = describe
        self.root = ""
        self.files: list[str] = []
        self.classes: list[str] = []
        self._rows: dict[str, int] = {}
        self._gone: list[int] = []  # positions (as set) of the rows removed since
        self._gone_set: set[int] = set()
        self._placeholder = _placeholder(loader.size, QColor("#e6e9ef"))
        self._broken = _placeholder(loader.size, QColor("#f6d5d5"), broken=True)
        loader.loaded.connect(self._on_thumb)
        loader.failed.connect(self._on_thumb)

    def set_files(self, root: str, files: Sequence[str]) -> None:
        self.beginResetModel()
        if root != self.root:
            self.loader.reset()
        self.root, self.files = root, list(files)
        self._rows = {f: i for i, f in enumerate(self.files)}
        self._gone = []
        self._gone_set = set()
        self.endResetModel()

    def remove_files(self, files: list[str]) -> None:
        """Take `files` out of the view, row by row (the rest of the view keeps its place).
        Rows are found from the positions `set_files` gave, less the removed ones before them
        (a bisection): at 20,000 images, rebuilding the index at every key costs a frame."""
        for file in files:
            row = self.row_of(file)
            if row is None:
                continue
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.files[row]
            bisect.insort(self._gone, self._rows[file])
            self._gone_set.add(self._rows[file])
            self.endRemoveRows()

    def path(self, file: str) -> str:
        return f"{self.root}/{file}"

    def row_of(self, file: str) -> int | None:
        at = self._rows.get(file)
        if at is None or at in self._gone_set:
            return None
        return at - bisect.bisect_left(self._gone, at)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.files)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid():
            return None
        file = self.files[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            path = self.path(file)
            if self.loader.error(path):
                return self._broken
            return self.loader.pixmap(path) or self._placeholder
        if role == FileRole:
            return file
        label, suggestion, confidence = self.describe(file)
        if role == Qt.ItemDataRole.DisplayRole:
            if label is not None:
                return label
            return f"{suggestion}? {100 * confidence:.0f} %" if suggestion else "—"
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor("#1d2433" if label is not None else "#7a8499"))
        if role == Qt.ItemDataRole.BackgroundRole and label is not None:
            tint = TINTS[self.classes.index(label) % len(TINTS)] if label in self.classes else None
            return QBrush(QColor(tint)) if tint else None
        if role == Qt.ItemDataRole.ToolTipRole:
            text = file if label is not None else f"{file}\nnot labelled"
            return f"{text}\nsuggested: {suggestion} ({100 * confidence:.0f} %)" if (
                suggestion) else text
        return None

    def refresh(self) -> None:
        """Labels or suggestions changed: repaint the captions (the view repaints only the
        tiles it shows)."""
        if self.files:
            self.dataChanged.emit(self.index(0), self.index(len(self.files) - 1),
                                  [Qt.ItemDataRole.DisplayRole])

    @Slot(str)
    def _on_thumb(self, path: str, *_: object) -> None:
        row = self.row_of(path.removeprefix(self.root + "/"))
        if row is not None:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class LabelGrid(QListView):
    """The grid; keys other than moving and selecting go to `key_pressed`."""

    key_pressed = Signal(QKeyEvent)

    def __init__(self, describe: Describe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loader = ThumbnailLoader(THUMB, keep=3000, parent=self)
        self.label_model = LabelModel(self.loader, describe, self)
        self.setModel(self.label_model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 20, THUMB + 2 * self.fontMetrics().lineSpacing() + 6))
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setSpacing(2)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def selected_files(self) -> list[str]:
        rows = sorted(i.row() for i in self.selectionModel().selectedIndexes())
        return [self.label_model.files[r] for r in rows]

    def select_row(self, row: int) -> None:
        """Make `row` (clamped) the current and only selected tile."""
        count = self.label_model.rowCount()
        if count == 0:
            return
        index = self.label_model.index(max(0, min(row, count - 1)))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)

    def keyboardSearch(self, search: str) -> None:
        """Typing names a class (the page's job), it does not jump to a file name."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        moving = event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Up,
                                 Qt.Key.Key_Down, Qt.Key.Key_Home, Qt.Key.Key_End,
                                 Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)
        if moving or event.matches(QKeySequence.StandardKey.SelectAll):
            super().keyPressEvent(event)
            return
        self.key_pressed.emit(event)
