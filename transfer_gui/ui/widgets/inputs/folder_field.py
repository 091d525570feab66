"""A folder path shown shortened in the middle, with a "Choose…" button beside it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

EMPTY = "not chosen"


class FolderField(QWidget):
    """A path shortened to the width it has, with a "Choose…" button."""

    choose_clicked = Signal()

    def __init__(self, parent: QWidget | None = None, empty: str = EMPTY) -> None:
        super().__init__(parent)
        self.path = ""
        self.empty = empty  # shown while no folder is chosen
        self.label = QLabel(empty)
        self.label.setObjectName("pathLabel")
        self.label.setMinimumWidth(60)
        self.button = QPushButton("Choose…")
        self.button.clicked.connect(self.choose_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)

    def set_path(self, path: str | None) -> None:
        self.path = path or ""
        self.label.setToolTip(self.path)
        self._elide()

    def _elide(self) -> None:
        if not self.path:
            self.label.setText(self.empty)
            return
        room = self.label.contentsRect().width() - 2
        self.label.setText(self.label.fontMetrics().elidedText(
            self.path, Qt.TextElideMode.ElideLeft, max(room, 40)))  # the end names it

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()
