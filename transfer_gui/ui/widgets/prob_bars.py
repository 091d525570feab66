"""Top-k labels with horizontal probability bars."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

ROW = 22


class ProbabilityBars(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, float]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_rows(self, rows: Sequence[tuple[str, float]]) -> None:
        self.rows = list(rows)
        self.setFixedHeight(max(ROW, ROW * len(self.rows)))
        self.setToolTip("\n".join(f"{label}: {p:.1%}" for label, p in self.rows))
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(320, max(ROW, ROW * len(self.rows)))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = QFontMetrics(self.font())
        widest = max((metrics.horizontalAdvance(label) for label, _ in self.rows), default=0)
        label_w = min(self.width() * 0.45, widest + 14)
        percent_w = metrics.horizontalAdvance("100.0 %") + 8
        bar_w = max(10.0, self.width() - label_w - percent_w - 8)
        for i, (label, prob) in enumerate(self.rows):
            y = i * ROW
            text = metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(label_w - 8))
            painter.setPen(QColor("#1d2330") if i == 0 else QColor("#454b55"))
            painter.drawText(QRectF(0, y, label_w - 8, ROW),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
            track = QRectF(label_w, y + 5, bar_w, ROW - 10)
            painter.fillRect(track, QColor("#eceff3"))
            fill = QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)), track.height())
            painter.fillRect(fill, QColor("#3b6fd8") if i == 0 else QColor("#9db4e6"))
            painter.setPen(QColor("#454b55"))
            painter.drawText(QRectF(label_w + bar_w + 6, y, percent_w, ROW),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"{prob:.1%}")
