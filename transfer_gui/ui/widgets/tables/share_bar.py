"""A class's share of the images, drawn as a bar with its percentage (the Data page's class
table)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

SHARE_ROLE = Qt.ItemDataRole.UserRole + 2  # the share, 0..1, of the cell's row


class ShareBar(QStyledItemDelegate):
    """Draws a class's share of the images as a bar with its percentage."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        share = float(index.data(SHARE_ROLE) or 0.0)
        rect: QRect = option.rect.adjusted(6, 7, -56, -7)
        painter.save()
        painter.fillRect(rect, QColor("#eceff3"))
        painter.fillRect(rect.adjusted(0, 0, -int(rect.width() * (1 - share)), 0),
                         QColor("#3b6fd8"))
        painter.setPen(QColor("#2b2f36"))
        text_rect = option.rect.adjusted(option.rect.width() - 52, 0, -4, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         f"{share:.1%}")
        painter.restore()
