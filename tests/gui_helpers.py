"""Helpers for driving the window in tests."""

from __future__ import annotations

import time

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def wait_until(qtbot, condition, timeout: float = 60.0) -> None:
    qtbot.waitUntil(condition, timeout=int(timeout * 1000))


def drop_files(widget: QWidget, paths: list[str]) -> None:
    """Drag these files onto `widget` and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    at = QPointF(10, 10)
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    for kind in (QDragEnterEvent, QDragMoveEvent, QDropEvent):
        event = kind(at, *args)
        assert QApplication.sendEvent(widget, event), f"{kind.__name__} was not delivered"


class GapMeter:
    """Measures the longest pause of the GUI thread's event loop with a fast timer."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
