"""The Label page's "Sort into class folders": the moves shown, then asked for."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from ...core import LabelPool, plan_sort


def confirm_sort(parent: QWidget, pool: LabelPool) -> list | None:
    """The moves the user agreed to after seeing them (None: nothing to move, or cancelled)."""
    moves = plan_sort(pool)
    if not moves:
        QMessageBox.information(parent, "Nothing to move",
                                "Every labelled image is already in its class's folder.")
        return None
    box = QMessageBox(QMessageBox.Icon.Question, "Sort into class folders",
                      f"Move {len(moves)} labelled images into a folder per class under "
                      f"{pool.root}? Unlabelled images stay where they are; "
                      "labels.csv follows the moves.", parent=parent)
    box.setDetailedText("\n".join(f"{m.source}  →  {m.target}" for m in moves[:2000]))
    go = box.addButton(f"Move {len(moves)} images", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    return moves if box.clickedButton() is go else None
