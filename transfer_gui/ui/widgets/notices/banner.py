"""A coloured message strip above a page's content, for what the user should see at once."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


def sentence(text: str) -> str:
    """`text` as a sentence: a capital first letter and a full stop."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class Banner(QLabel):
    """Hidden while empty; `show_message(text, kind)` with kind "error", "warning" or "info"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setVisible(False)

    def show_message(self, text: str, kind: str = "warning") -> None:
        self.setText(text)
        self.setProperty("kind", kind)
        self.style().unpolish(self)  # the style sheet picks its colours by the kind
        self.style().polish(self)
        self.setVisible(bool(text))

    def clear_message(self) -> None:
        self.show_message("")
