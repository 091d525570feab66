"""Top-k labels with horizontal probability bars, and the uncertainty threshold as a marker
(painted into the prediction list's rows)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen

ROW = 22
UNCERTAIN = QColor("#c77c0e")  # the top bar of an uncertain result, and the threshold marker


def paint_bars(painter: QPainter, area: QRectF, rows: Sequence[tuple[str, float]], font: QFont,
               threshold: float | None = None) -> None:
    """Draw `rows` (label, probability) from the top of `area`, one per ROW; with a threshold,
    a tick marks it on every track and a top bar below it is drawn in the warning colour."""
    metrics = QFontMetrics(font)
    painter.setFont(font)
    widest = max((metrics.horizontalAdvance(label) for label, _ in rows), default=0)
    label_w = min(area.width() * 0.45, widest + 14)
    percent_w = metrics.horizontalAdvance("100.0 %") + 8
    bar_w = max(10.0, area.width() - label_w - percent_w - 8)
    uncertain = threshold is not None and bool(rows) and rows[0][1] < threshold
    for i, (label, prob) in enumerate(rows):
        y = area.y() + i * ROW
        text = metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(label_w - 8))
        painter.setPen(QColor("#1d2330") if i == 0 else QColor("#454b55"))
        painter.drawText(QRectF(area.x(), y, label_w - 8, ROW),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
        track = QRectF(area.x() + label_w, y + 5, bar_w, ROW - 10)
        painter.fillRect(track, QColor("#eceff3"))
        fill = QRectF(track.x(), track.y(), bar_w * max(0.0, min(1.0, prob)), track.height())
        colour = (UNCERTAIN if uncertain else QColor("#3b6fd8")) if i == 0 else QColor("#9db4e6")
        painter.fillRect(fill, colour)
        if threshold is not None:
            x = track.x() + bar_w * threshold
            painter.setPen(QPen(UNCERTAIN, 2))
            painter.drawLine(int(x), int(track.y() - 3), int(x), int(track.bottom() + 3))
        painter.setPen(QColor("#454b55"))
        painter.drawText(QRectF(track.right() + 6, y, percent_w, ROW),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{prob:.1%}")

