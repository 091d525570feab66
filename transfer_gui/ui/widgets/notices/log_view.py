"""The Train page's log: it follows new lines while the user reads the end, and stays where
the user scrolled otherwise (also across a page switch, when Qt's own following gives up)."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QPlainTextEdit, QWidget

NEAR_END = 4  # pixels of scroll from the end that still count as "at the end"


class LogView(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None, max_lines: int = 5000) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMaximumBlockCount(max_lines)
        self.following = True
        bar = self.verticalScrollBar()
        # only the user's scrolling decides (a range change while hidden must not)
        bar.actionTriggered.connect(self._on_user_scrolled)
        bar.sliderReleased.connect(self._on_user_scrolled)

    def _on_user_scrolled(self, *_: object) -> None:
        QTimer.singleShot(0, self._update_following)  # after the action has moved the bar

    def _update_following(self) -> None:
        bar = self.verticalScrollBar()
        self.following = bar.value() >= bar.maximum() - NEAR_END

    def appendPlainText(self, text: str) -> None:
        bar = self.verticalScrollBar()
        kept = bar.value()
        super().appendPlainText(text)
        bar.setValue(bar.maximum() if self.following else kept)
