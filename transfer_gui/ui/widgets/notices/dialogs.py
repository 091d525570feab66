"""Error dialogs: a clear message, the details (traceback) one click away, never a crash."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

SHOWN: list[tuple[str, str]] = []  # (title, message) of every error shown, for tests and logs


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    SHOWN.append((title, message))
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.open()  # window-modal, without blocking the event loop
