"""The Duplicates tab: the pairs, with the cosine threshold from which a pair is listed.

Changing the threshold lists the pairs again from the features already computed (no new
inspection): a pair of copies a network sees as less alike (a photo shrunk to 30 pixels and
blown up again) can be brought in without rerunning anything.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core import DUPLICATE_THRESHOLD
from .duplicate_list import DuplicateList

TIP = ("Two images are listed when the cosine similarity of their features is at least this. "
       f"{DUPLICATE_THRESHOLD:.2f} (the default) was chosen on real photographs with planted "
       "resized copies (BENCHMARKS.md, Near-duplicates); lower it to catch copies that were "
       "shrunk hard, raise it when different photos of one scene are listed.")


class DuplicateTab(QWidget):
    """The threshold above the pair list; `threshold_changed` carries a new cut."""

    threshold_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = DuplicateList()
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.5, 0.999)
        self.threshold.setDecimals(3)
        self.threshold.setSingleStep(0.01)
        self.threshold.setValue(DUPLICATE_THRESHOLD)
        self.threshold.setKeyboardTracking(False)  # one search per value, not per keystroke
        self.threshold.setToolTip(TIP)
        self.threshold.valueChanged.connect(self.threshold_changed)
        label = QLabel("Near-duplicates from cosine")
        label.setToolTip(TIP)
        label.setBuddy(self.threshold)
        row = QHBoxLayout()
        row.addWidget(label)
        row.addWidget(self.threshold)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)

    def value(self) -> float:
        return float(self.threshold.value())
