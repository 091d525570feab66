"""A lazily loaded thumbnail grid.

The view only asks for the thumbnails it shows, and each one is decoded on a thread pool off
the GUI thread, so a folder of thousands of images never stalls the window. A file that cannot
be decoded shows a "broken" tile with the reason in its tooltip.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QWidget

from ...qimage import pil_to_qimage

THUMB = 112
PathRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class GridItem:
    path: str
    caption: str = ""
    tooltip: str = ""


class _Signals(QObject):
    loaded = Signal(int, str, QImage)
    failed = Signal(int, str, str)


class _Load(QRunnable):
    def __init__(self, signals: _Signals, generation: int, path: str, size: int) -> None:
        super().__init__()
        self.signals, self.generation, self.path, self.size = signals, generation, path, size

    def run(self) -> None:
        from ....core import ImageError, thumbnail

        try:
            image = pil_to_qimage(thumbnail(self.path, self.size))
        except ImageError as exc:
            self.signals.failed.emit(self.generation, self.path, exc.reason)
        except Exception as exc:  # noqa: BLE001 - a thumbnail must never take the window down
            self.signals.failed.emit(self.generation, self.path, str(exc))
        else:
            self.signals.loaded.emit(self.generation, self.path, image)


class ThumbnailLoader(QObject):
    """Decodes thumbnails on a small thread pool and keeps the recent ones."""

    loaded = Signal(str)
    failed = Signal(str, str)

    def __init__(self, size: int = THUMB, keep: int = 2000, parent: QObject | None = None):
        super().__init__(parent)
        self.size = size
        self._keep = keep
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._errors: dict[str, str] = {}
        self._pending: set[str] = set()
        self._generation = 0

    def pixmap(self, path: str) -> QPixmap | None:
        """The thumbnail if loaded; otherwise `None` and a load is queued."""
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        if path not in self._pending and path not in self._errors:
            self._pending.add(path)
            self._pool.start(_Load(self._signals, self._generation, path, self.size))
        return None

    def error(self, path: str) -> str | None:
        return self._errors.get(path)

    def reset(self) -> None:
        """Forget queued work (results of earlier requests are then ignored)."""
        self._generation += 1
        self._pool.clear()
        self._pending.clear()

    def wait(self, ms: int = 5000) -> bool:
        return self._pool.waitForDone(ms)

    @Slot(int, str, QImage)
    def _on_loaded(self, generation: int, path: str, image: QImage) -> None:
        self._pending.discard(path)
        if generation != self._generation:
            return
        self._cache[path] = QPixmap.fromImage(image)
        while len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        self.loaded.emit(path)

    @Slot(int, str, str)
    def _on_failed(self, generation: int, path: str, reason: str) -> None:
        self._pending.discard(path)
        if generation == self._generation:
            self._errors[path] = reason
            self.failed.emit(path, reason)


class ThumbnailModel(QAbstractListModel):
    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loader = loader
        self._items: list[GridItem] = []
        self._rows: dict[str, list[int]] = {}
        self._placeholder = _placeholder(loader.size, QColor("#e6e9ef"))
        self._broken = _placeholder(loader.size, QColor("#f6d5d5"), broken=True)
        loader.loaded.connect(self._refresh)
        loader.failed.connect(self._refresh)

    def set_items(self, items: Sequence[GridItem]) -> None:
        self.beginResetModel()
        self.loader.reset()
        self._items = list(items)
        self._rows = {}
        for row, item in enumerate(self._items):
            self._rows.setdefault(item.path, []).append(row)
        self.endResetModel()

    def item(self, row: int) -> GridItem:
        return self._items[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        if not index.isValid():
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.caption
        if role == Qt.ItemDataRole.DecorationRole:
            if self.loader.error(item.path):
                return self._broken
            return self.loader.pixmap(item.path) or self._placeholder
        if role == Qt.ItemDataRole.ToolTipRole:
            error = self.loader.error(item.path)
            text = item.tooltip or item.path
            return f"{text}\n\nCannot be shown: {error}" if error else text
        if role == PathRole:
            return item.path
        return None

    @Slot(str)
    def _refresh(self, path: str, *_: object) -> None:
        for row in self._rows.get(path, []):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


def _placeholder(size: int, colour: QColor, broken: bool = False) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(colour)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawRoundedRect(4, 4, size - 8, size - 8, 8, 8)
    if broken:
        painter.setPen(QColor("#b33a3a"))
        font = painter.font()
        font.setPointSize(10)
        painter.setFont(font)
        painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "cannot\nbe read")
    painter.end()
    return pixmap


class ImageGrid(QListView):
    """Thumbnails in a wrapping grid; double-click or Enter emits `activated_path`.

    With `caption_lines` above 1, a caption's lines (split at "\n") are shown one under the
    other, each shortened at its end to the tile's width, never wrapped inside a word."""

    activated_path = Signal(str)

    def __init__(self, parent: QWidget | None = None, size: int = THUMB,
                 caption_lines: int = 1) -> None:
        super().__init__(parent)
        self.caption_lines = caption_lines
        self.loader = ThumbnailLoader(size, parent=self)
        self.grid_model = ThumbnailModel(self.loader, self)
        self.setModel(self.grid_model)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setIconSize(QSize(size, size))
        text = max(2, caption_lines) * self.fontMetrics().lineSpacing() + 8
        self.setGridSize(QSize(size + 24, size + max(36, text)))
        self.setWordWrap(caption_lines == 1)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle if caption_lines == 1
                              else Qt.TextElideMode.ElideRight)
        self.setSpacing(4)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.activated.connect(self._on_activated)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def set_items(self, items: Sequence[GridItem]) -> None:
        if self.caption_lines > 1:
            items = [replace(i, caption=self.fit_caption(i.caption)) for i in items]
        self.grid_model.set_items(items)

    def fit_caption(self, caption: str) -> str:
        """The caption's first `caption_lines` lines, each shortened to the tile's width."""
        metrics = self.fontMetrics()
        room = self.gridSize().width() - 8
        return "\n".join(metrics.elidedText(line, Qt.TextElideMode.ElideRight, room)
                         for line in caption.split("\n")[:self.caption_lines])

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        self.activated_path.emit(self.grid_model.item(index.row()).path)
