"""Windows sized for the screen they open on: a laptop's 1024 x 680 must show the whole window
(its status bar, the Data page's buttons), whatever size it had on a larger screen."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

FRAME = (16, 40)  # room for the window manager's frame and title bar, in pixels


def available_area(window: QWidget) -> QRect:
    """The part of the window's screen that windows may use (no task bar, no panels)."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, 1280, 800)


def fit_on_screen(window: QWidget, width: int, height: int) -> None:
    """Resize `window` to `width` x `height`, or less where its screen is smaller."""
    area = available_area(window)
    window.resize(min(width, area.width() - FRAME[0]), min(height, area.height() - FRAME[1]))


def keep_on_screen(window: QWidget) -> None:
    """A geometry restored from a larger screen: shrunk and moved to lie within this one."""
    area = available_area(window)
    width = min(window.width(), area.width() - FRAME[0])
    height = min(window.height(), area.height() - FRAME[1])
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    x = min(max(window.x(), area.left()), area.right() - width - FRAME[0])
    y = min(max(window.y(), area.top()), area.bottom() - height - FRAME[1])
    if (x, y) != (window.x(), window.y()):
        window.move(max(x, area.left()), max(y, area.top()))
