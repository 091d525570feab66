"""Thumbnails for the rows of a table (the review list, the duplicate pairs), decoded on a
thread pool off the GUI thread, only for the rows in view: a list of 5,000 pairs opens at once
and decodes what the user scrolls to."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QTableWidget

from ..widgets.tables.image_grid import ThumbnailLoader

AHEAD = 12  # rows below the view decoded in advance


class TableThumbnails(QObject):
    def __init__(self, table: QTableWidget, size: int) -> None:
        super().__init__(table)
        self.table = table
        self.loader = ThumbnailLoader(size, keep=4000, parent=self)
        self.loader.loaded.connect(self._on_loaded)
        self._cells: dict[str, list[tuple[int, int]]] = {}
        self._rows: dict[int, list[tuple[int, str]]] = {}
        table.verticalScrollBar().valueChanged.connect(self.request_visible)

    def set_cells(self, cells: list[tuple[int, int, str]]) -> None:
        """(row, column, file) of every thumbnail the table shows ("": none)."""
        self.loader.reset()
        self._cells, self._rows = {}, {}
        for row, column, path in cells:
            if path:
                self._cells.setdefault(path, []).append((row, column))
                self._rows.setdefault(row, []).append((column, path))
        QTimer.singleShot(0, self.request_visible)

    @Slot()
    def request_visible(self, *_: object) -> None:
        table = self.table
        if not self._rows or not table.isVisible():
            return
        first = max(table.rowAt(0), 0)
        last = table.rowAt(table.viewport().height() - 1)
        last = table.rowCount() - 1 if last < 0 else last
        for row in range(first, min(last + AHEAD, table.rowCount() - 1) + 1):
            for column, path in self._rows.get(row, []):
                pixmap = self.loader.pixmap(path)  # queued unless decoded already
                if pixmap is not None:
                    self._set(row, column, pixmap)

    @Slot(str)
    def _on_loaded(self, path: str) -> None:
        pixmap = self.loader.pixmap(path)
        if pixmap is None:
            return
        for row, column in self._cells.get(path, []):
            self._set(row, column, pixmap)

    def _set(self, row: int, column: int, pixmap: QPixmap) -> None:
        item = self.table.item(row, column)
        if item is not None and item.icon().isNull():
            item.setIcon(QIcon(pixmap))

    def stop(self) -> None:
        self.loader.reset()
        self.loader.wait(3000)
