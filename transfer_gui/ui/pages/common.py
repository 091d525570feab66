"""Small helpers shared by the pages."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidgetItem, QVBoxLayout, QWidget


def page_title(title: str, subtitle: str = "") -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 4)
    layout.setSpacing(2)
    heading = QLabel(title)
    heading.setObjectName("pageTitle")
    layout.addWidget(heading)
    if subtitle:
        sub = QLabel(subtitle)
        sub.setObjectName("pageSubtitle")
        sub.setWordWrap(True)
        layout.addWidget(sub)
    return box


def elide_path(path: str, keep: int = 70) -> str:
    """Shorten a long path in the middle, keeping its end (the part that differs)."""
    path = os.path.normpath(path)
    return path if len(path) <= keep else path[: keep // 3] + "…" + path[-(2 * keep // 3):]


def table_cell(text: str, align_right: bool = False) -> QTableWidgetItem:
    """A read-only table cell; numbers are right-aligned."""
    item = QTableWidgetItem(text)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item
