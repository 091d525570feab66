"""The list of prediction results: one row per image (thumbnail or Grad-CAM overlay, name,
top-k bars), drawn by a delegate so only the rows on screen cost anything.

Memory stays bounded however many images are classified: each result keeps only a small JPEG
thumbnail; decoded pixmaps and overlays live in least-recently-used caches of fixed size, so
what scrolled off screen is released.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from ....core import answers_line
from ..plots.prob_bars import ROW, UNCERTAIN, paint_bars

THUMB = 144
PIXMAPS = 200  # decoded thumbnails kept (about 80 KB each)
OVERLAYS = 48  # Grad-CAM overlays kept (about 60 KB each); more are recomputed when shown

Index = QModelIndex | QPersistentModelIndex


class LRU(OrderedDict):
    """A dict that forgets its least recently used entries beyond `bound`."""

    def __init__(self, bound: int) -> None:
        super().__init__()
        self.bound = bound

    def get_fresh(self, key: Any) -> Any:
        if key not in self:
            return None
        self.move_to_end(key)
        return self[key]

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.bound:
            self.popitem(last=False)


class PredictionModel(QAbstractListModel):
    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []  # predict_jobs.Result

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.results)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        result = self.results[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(result.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            scores = "\n".join(f"{label}: {p:.1%}" for label, p in result.top_k)
            if getattr(result, "tasks", None):
                scores = answers_line(result.tasks).replace("; ", "\n")
            return f"{result.path}\n{result.error or scores}"
        if role == Qt.ItemDataRole.UserRole:
            return result
        return None

    def append(self, results: list[Any]) -> None:
        first = len(self.results)
        self.beginInsertRows(QModelIndex(), first, first + len(results) - 1)
        self.results.extend(results)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.results = []
        self.endResetModel()


class PredictionList(QListView):
    """Emits `rows_shown` (the rows on screen) shortly after they change, for on-demand
    Grad-CAM."""

    rows_shown = Signal(list)

    def __init__(self) -> None:
        super().__init__()
        self.results_model = PredictionModel()
        self.setModel(self.results_model)
        self.setItemDelegate(ResultDelegate(self))
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.show_cam = False
        self.threshold = 0.5
        self.pixmaps = LRU(PIXMAPS)
        self.overlays = LRU(OVERLAYS)
        self._shown_timer = QTimer(self, singleShot=True, interval=60)
        self._shown_timer.timeout.connect(self._emit_rows_shown)
        self.verticalScrollBar().valueChanged.connect(self.announce_rows)
        self.results_model.rowsInserted.connect(self.announce_rows)

    def announce_rows(self) -> None:
        self._shown_timer.start()

    def _emit_rows_shown(self) -> None:
        self.rows_shown.emit(self.visible_rows())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.announce_rows()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.announce_rows()  # back on the page: the rows on screen may lack their overlay

    def visible_rows(self) -> list[int]:
        if not self.isVisible() or not self.results_model.results:
            return []
        area = self.viewport().rect()
        first = self.indexAt(area.topLeft()).row()
        last = self.indexAt(area.bottomLeft()).row()
        last = self.results_model.rowCount() - 1 if last < 0 else last
        return list(range(max(first, 0), last + 1)) if first >= 0 else []

    def set_display(self, show_cam: bool, threshold: float) -> None:
        self.show_cam, self.threshold = show_cam, threshold
        self.viewport().update()
        self.announce_rows()

    def set_overlay(self, row: int, image: QImage) -> None:
        self.overlays.put(row, image)
        self.viewport().update()

    def clear_results(self) -> None:
        self.results_model.clear()
        self.pixmaps.clear()
        self.overlays.clear()

    def picture(self, row: int, result: Any) -> QPixmap | QImage | None:
        """The overlay when Grad-CAM is on and it is ready, else the thumbnail."""
        if self.show_cam:
            overlay = self.overlays.get_fresh(row)
            if overlay is not None:
                return overlay
        pixmap = self.pixmaps.get_fresh(row)
        if pixmap is None and result.thumb:
            pixmap = QPixmap()
            pixmap.loadFromData(result.thumb, "JPEG")
            self.pixmaps.put(row, pixmap)
        return pixmap


class ResultDelegate(QStyledItemDelegate):
    def __init__(self, view: PredictionList) -> None:
        super().__init__(view)
        self.view = view

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(400, THUMB + 12)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        result = index.data(Qt.ItemDataRole.UserRole)
        rect = option.rect.adjusted(6, 6, -6, -6)
        painter.save()
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight().color().lighter(170))
        self._paint_picture(painter, QRect(rect.x(), rect.y(), THUMB, THUMB), index.row(),
                            result)
        text = QRectF(rect.x() + THUMB + 12, rect.y(), rect.width() - THUMB - 12, rect.height())
        self._paint_text(painter, text, result, option.font)
        painter.restore()

    def _paint_picture(self, painter: QPainter, box: QRect, row: int, result: Any) -> None:
        picture = self.view.picture(row, result)
        if picture is None:
            painter.setPen(QColor("#7a808a"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "no preview")
            return
        size = picture.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(box.center())
        # tiny images (a few dozen pixels) stay sharp: scale them without smoothing
        smooth = picture.width() * 2 > box.width()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if isinstance(picture, QImage):
            painter.drawImage(target, picture)
        else:
            painter.drawPixmap(target, picture)

    def _paint_text(self, painter: QPainter, area: QRectF, result: Any, font: QFont) -> None:
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(QColor("#1d2330"))
        painter.drawText(QRectF(area.x(), area.y(), area.width(), ROW),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         os.path.basename(result.path))
        painter.setFont(font)
        x = area.x()
        for text, colour in _notes(result, self.view.threshold):
            painter.setPen(colour)
            painter.drawText(QRectF(x, area.y() + ROW, area.right() - x, ROW),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            x += QFontMetrics(font).horizontalAdvance(text + "   ")
        bars = QRectF(area.x(), area.y() + 2 * ROW, min(area.width(), 560),
                      area.height() - 2 * ROW)
        if not result.error:
            paint_bars(painter, bars, result.top_k, font, self.view.threshold)


def _notes(result: Any, threshold: float) -> list[tuple[str, QColor]]:
    """The line under the name, in coloured parts: the error, the uncertainty flag, whether
    the prediction matches the class its folder names."""
    if result.error:
        return [(f"Cannot classify: {result.error}", QColor("#b3261e"))]
    notes = []
    if result.top_k and result.top_k[0][1] < threshold:
        notes.append((f"uncertain (top class under {threshold:.0%})", UNCERTAIN))
    if getattr(result, "tasks", None):  # a run of several tasks: each one's answer
        notes.append((answers_line(result.tasks), QColor("#1d2330")))
    if result.truth is not None:
        right = result.truth == result.label
        notes.append((f"{'✓ right' if right else '✗ wrong'}: the folder says {result.truth}",
                      QColor("#1e7b34") if right else QColor("#b3261e")))
    return notes
