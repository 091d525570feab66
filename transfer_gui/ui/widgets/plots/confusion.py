"""The confusion matrix as a heat map with counts; clicking a cell selects it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ....core import count

EMPTY = QColor("#f4f6f9")


def _cell_colour(share: float, diagonal: bool) -> QColor:
    """White to blue on the diagonal (correct), white to red elsewhere (mistakes)."""
    share = max(0.0, min(1.0, share))
    target = (40, 100, 200) if diagonal else (205, 60, 50)
    return QColor(*[round(255 + (t - 255) * share) for t in target])


class ConfusionMatrix(QWidget):
    cell_clicked = Signal(int, int)  # true class, predicted class

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.classes: list[str] = []
        self.matrix = np.zeros((0, 0), dtype=int)
        self.selected: tuple[int, int] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(320, 280)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_matrix(self, classes: Sequence[str], matrix: np.ndarray) -> None:
        self.classes = list(classes)
        self.matrix = np.asarray(matrix, dtype=int)
        self.selected = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 420)

    def _geometry(self) -> tuple[float, float, float]:
        """(left, top, cell size). Column names that do not fit across a cell are written
        upwards, and the top margin grows to hold them (up to a third of the height)."""
        metrics = QFontMetrics(self.font())
        label = max((metrics.horizontalAdvance(c) for c in self.classes), default=0)
        left = min(label + 16, self.width() * 0.35)
        n = max(len(self.classes), 1)
        top = 28.0
        cell = self._cell(left, top, n)
        if label > cell - 6:
            top = max(top, min(label + 14.0, self.height() / 3))
            cell = self._cell(left, top, n)
        return left, top, cell

    def _cell(self, left: float, top: float, n: int) -> float:
        return max(8.0, min((self.width() - left - 8) / n, (self.height() - top - 24) / n))

    def _rotated(self, cell: float) -> bool:
        metrics = QFontMetrics(self.font())
        return any(metrics.horizontalAdvance(c) > cell - 6 for c in self.classes)

    def cell_at(self, pos: QPointF) -> tuple[int, int] | None:
        """(true class, predicted class) of the cell under `pos`, or None off the cells."""
        n = len(self.classes)
        if not n:
            return None
        left, top, cell = self._geometry()
        if pos.x() < left or pos.y() < top:
            return None
        row, col = int((pos.y() - top) // cell), int((pos.x() - left) // cell)
        return (row, col) if row < n and col < n else None

    def label_at(self, pos: QPointF) -> str:
        """The full class name under `pos` in the row or column headers ("" elsewhere)."""
        left, top, cell = self._geometry()
        n = len(self.classes)
        row, col = int((pos.y() - top) // cell), int((pos.x() - left) // cell)
        if pos.x() < left and pos.y() >= top and 0 <= row < n:
            return f"true class: {self.classes[row]}"
        if pos.y() < top and pos.x() >= left and 0 <= col < n:
            return f"predicted class: {self.classes[col]}"
        return ""

    def mousePressEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position())
        if hit is not None:
            self.selected = hit
            self.update()
            self.cell_clicked.emit(*hit)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position())
        if hit is None:
            self.setToolTip(self.label_at(event.position()))
            return
        row, col = hit
        n = int(self.matrix[row, col])
        self.setToolTip(f"true {self.classes[row]}, predicted {self.classes[col]}: "
                        f"{count(n, 'image')} (click to see them)")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        n = len(self.classes)
        if not n:
            painter.setPen(QColor("#7a808a"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No evaluation yet")
            return
        left, top, cell = self._geometry()
        totals = self.matrix.sum(axis=1)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, min(11.0, cell / 4)))
        for row in range(n):
            for col in range(n):
                rect = QRectF(left + col * cell, top + row * cell, cell - 2, cell - 2)
                self._paint_cell(painter, font, (row, col), rect, totals[row])
        self._paint_labels(painter, left, top, cell)

    def _paint_cell(self, painter: QPainter, font: QFont, at: tuple[int, int], rect: QRectF,
                    total: int) -> None:
        row, col = at
        n = int(self.matrix[row, col])
        cell = rect.width() + 2
        colour = _cell_colour(n / total if total else 0.0, row == col) if n else EMPTY
        painter.fillRect(rect, colour)
        if self.selected == at:
            painter.setPen(QColor("#1d2330"))
            painter.drawRect(rect.adjusted(1, 1, -1, -1))
        if cell >= 18:
            painter.setFont(font)
            dark = colour.lightness() < 140
            painter.setPen(QColor("white") if dark else QColor("#1d2330"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(n))

    def _paint_labels(self, painter: QPainter, left: float, top: float, cell: float) -> None:
        painter.setFont(self.font())
        painter.setPen(QColor("#2b2f36"))
        metrics = QFontMetrics(self.font())
        rotated = self._rotated(cell)
        for i, name in enumerate(self.classes):
            text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, int(left - 10))
            painter.drawText(QRectF(0, top + i * cell, left - 8, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
            if rotated:
                self._paint_upwards(painter, metrics, name, left + (i + 0.5) * cell, top)
            else:
                painter.drawText(QRectF(left + i * cell, top - 22, cell, 20),
                                 Qt.AlignmentFlag.AlignCenter, name)
        painter.setPen(QColor("#7a808a"))
        corner = "true ↓" if not rotated else "true ↓  predicted →"
        painter.drawText(QRectF(0, 0, left - 8, top - 4), Qt.AlignmentFlag.AlignRight
                         | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap, corner)
        bottom = top + len(self.classes) * cell + 4
        painter.drawText(QRectF(left, bottom, len(self.classes) * cell, 18),
                         Qt.AlignmentFlag.AlignCenter, "predicted class →")

    @staticmethod
    def _paint_upwards(painter: QPainter, metrics: QFontMetrics, name: str, x: float,
                       top: float) -> None:
        """A column name written bottom to top, ending just above its column."""
        room = int(top - 8)
        text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, room)
        height = metrics.height()
        painter.save()
        painter.translate(x, top - 4)
        painter.rotate(-90)
        painter.drawText(QRectF(0, -height / 2, room, height),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()
