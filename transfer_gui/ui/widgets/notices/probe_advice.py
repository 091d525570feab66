"""After a linear probe on the project's data: its accuracy and whether fine-tuning may gain."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget


class ProbeAdvice(QLabel):
    """A hint under the backbone list, shown only when a probe run of this data is current."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("probeAdvice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setVisible(False)

    def show_for(self, run_dir: str, data_root: str) -> None:
        from ....core import run_advice

        text = run_advice(run_dir, data_root) if run_dir else ""
        self.setText(f"<b>Which to choose:</b> {html.escape(text)}" if text else "")
        self.setVisible(bool(text))
