"""The Evaluate page's table: its columns for a single-label and a multi-label task, and a
multi-label task's figures and highest-loss images."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from ...core import count
from ..widgets.tables.image_grid import GridItem
from .common import table_cell

COLUMN_TIPS = (
    "The class (the true label)",
    "Of the images predicted as this class, the share that really are",
    "Of the images of this class, the share found",
    "The harmonic mean of precision and recall",
    "How many validation images of this class there are",
)


def _number(value: float, fmt: str = ".3f") -> QTableWidgetItem:
    return table_cell(format(value, fmt), align_right=True)


SINGLE_COLUMNS = ("Class", "Precision", "Recall", "F1", "Support")
LABEL_COLUMNS = ("Label", "Precision", "Recall", "F1", "Support", "AP")
AP_TIP = "Average precision: the label's ranking quality over every threshold"


def set_columns(table: QTableWidget, names: tuple[str, ...]) -> None:
    if table.columnCount() == len(names):
        return
    table.setColumnCount(len(names))
    table.setHorizontalHeaderLabels(list(names))
    for col, tip in enumerate((*COLUMN_TIPS, AP_TIP)[:len(names)]):
        if (item := table.horizontalHeaderItem(col)) is not None:
            item.setToolTip(tip)
    header = table.horizontalHeader()
    for col in range(1, len(names)):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)


def show_label_table(page: Any, table: Any) -> None:  # page: the EvaluatePage
    """A multi-label task: mAP and exact match, and per label its precision, recall, F1 (at
    the threshold chosen on validation), support and average precision; no confusion matrix;
    the images with the highest binary cross-entropy."""
    rows = table.per_label()
    page.headline.setText(page.prefix + f"mAP {table.mean_ap:.3f} · exact match "
                          f"{table.exact_match:.1%} · {count(len(table.truth), 'image')}")
    page.matrix.setVisible(False)
    set_columns(page.table, LABEL_COLUMNS)
    page.table.setRowCount(len(rows))
    for row, scores in enumerate(rows):
        page.table.setItem(row, 0, QTableWidgetItem(f"{scores['label']} (≥ "
                                                    f"{scores['threshold']:.2f})"))
        for col, key in enumerate(("precision", "recall", "f1"), start=1):
            page.table.setItem(row, col, _number(scores[key]))
        page.table.setItem(row, 4, _number(scores["support"], "d"))
        page.table.setItem(row, 5, _number(scores["ap"]))
    page.loss_grid.set_items(label_losses(table))
    page.cell_grid.set_items([])


def label_losses(table: Any, limit: int = 48) -> list[GridItem]:
    """The images whose labels the model got most wrong (binary cross-entropy), each with
    its true and its predicted labels."""
    import numpy as np

    if not len(table.truth):
        return []
    probs = np.clip(table.probs, 1e-6, 1 - 1e-6)
    truth = table.truth > 0.5
    losses = -np.where(truth, np.log(probs), np.log(1 - probs)).mean(axis=1)
    names = table.classes

    def listed(row: Any) -> str:
        return ", ".join(n for n, on in zip(names, row, strict=True) if on) or "none"

    items = []
    for i in np.argsort(-losses)[:limit].tolist():
        true, said = listed(truth[i]), listed(table.predicted[i])
        items.append(GridItem(table.paths[i], f"{true}\n→ {said}",
                              f"true: {true}; predicted: {said}; loss {losses[i]:.2f}\n"
                              f"{table.paths[i]}"))
    return items
