"""The comparison table: one row per run with its strategy, scores, time and trainable share.
The best value of each score column is bold; a click on a header sorts by it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ....core import STRATEGY_NAMES, share, with_mark
from .run_style import count, duration, percent, run_label, score, swatch

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ROLE = Qt.ItemDataRole.UserRole


def final_val_acc(row: dict[str, Any]) -> float | None:
    values = [h["val_acc"] for h in row.get("history", []) if h.get("val_acc") is not None]
    return values[-1] if values else None


def _trainable(row: dict[str, Any]) -> str:
    n, total = row.get("trainable_params"), row.get("total_params")
    if n is None or not total:
        return count(n)
    return f"{count(n)} ({share(n, total)})"


@dataclass(frozen=True)
class Column:
    header: str
    tip: str
    value: Callable[[dict], Any]  # what it sorts by
    text: Callable[[dict], str]  # what it shows
    best_high: bool = False  # the highest value is marked as the best


def _key(key: str, fmt: Callable[[Any], str] = str) -> tuple[Callable, Callable]:
    return (lambda r: r.get(key)), (lambda r: fmt(r.get(key)))


def _strategy(row: dict) -> str:
    return STRATEGY_NAMES.get(row.get("strategy", ""), str(row.get("strategy")))


def _tasks(row: dict) -> str:
    """`ink 100.0 % · backdrop 95.0 %` ("" for a run of one task)."""
    return " · ".join(f"{name} {percent(value)}" for name, value in
                      (row.get("tasks") or {}).items())


COLUMNS: tuple[Column, ...] = (
    Column("Strategy", "", _strategy, _strategy),
    Column("Backbone", "", *_key("backbone")),
    Column("Status", "", *_key("status")),
    Column("Epochs", "Epochs trained", *_key("epochs"), True),
    Column("Image size", "The side of the square images the network saw, in pixels",
           *_key("image_size", lambda v: "–" if v is None else f"{v} px"), True),
    Column("Final acc", "Validation accuracy after the last epoch", final_val_acc,
           lambda r: percent(final_val_acc(r)), True),
    Column("Best acc", "Best validation accuracy of any epoch (the saved model); \"kept its "
           "probe\": fine-tuning never beat the linear probe of epoch 1, so this is the "
           "probe's score and the saved model is the probe",
           lambda r: r.get("best_val_acc"), lambda r: with_mark(percent(r.get("best_val_acc")), r),
           True),
    Column("Macro F1", "Mean F1 over the classes (the saved model, validation split)",
           *_key("macro_f1", score), True),
    Column("Worst F1", "F1 of the worst class", *_key("min_f1", score), True),
    Column("Target: source only", "Domain adaptation with a labelled target folder: the "
           "accuracy on the target images before adaptation (the source-only model)",
           *_key("target_source_only", percent), True),
    Column("Target: adapted", "The same target images after adaptation (the saved model)",
           *_key("target_adapted", percent), True),
    Column("Time", "Training time", *_key("seconds", duration)),
    Column("Trainable", "Trainable parameters (share of the network)",
           lambda r: r.get("trainable_params"), _trainable),
    Column("Tasks", "A run of several label columns: each task's score on the validation "
           "split (accuracy, or mAP for a multi-label task)", _tasks, _tasks),
)


class _Item(QTableWidgetItem):
    """Sorts by its value, not its text (numbers, with missing values last)."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if a is None or b is None:
            return b is None and a is not None
        return a < b


class CompareTable(QTableWidget):
    """`set_rows([(run_dir, summary or None, colour), ...])`; double-click emits
    `run_activated(run_dir)`."""

    run_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS) + 1, parent)
        self.setHorizontalHeaderLabels(["Run", *(c.header for c in COLUMNS)])
        for i, column in enumerate(COLUMNS, start=1):
            if (header_item := self.horizontalHeaderItem(i)) is not None:
                header_item.setToolTip(column.tip)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._order_columns(header)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the list's order until
        header.setSortIndicatorShown(True)  # the user clicks a header
        self._bold = QFont()
        self._bold.setBold(True)
        self.cellDoubleClicked.connect(self._on_cell_double_clicked)

    RUN_WIDTH = 220  # a narrow window scrolls the numbers rather than squeeze the run names
    # shown first, after the run: what a comparison is for; the rest scrolls in a narrow window
    FIRST = ("Strategy", "Final acc", "Best acc", "Macro F1", "Worst F1", "Time")

    def _order_columns(self, header: QHeaderView) -> None:
        """Put the columns of `FIRST` right after the run's name, in that order (only where
        they are shown: the columns keep their indices)."""
        headers = [c.header for c in COLUMNS]
        for place, name in enumerate(self.FIRST, start=1):
            if name in headers:
                header.moveSection(header.visualIndex(headers.index(name) + 1), place)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_run_column()

    def fit_run_column(self) -> None:
        header = self.horizontalHeader()
        others = sum(header.sectionSize(i) for i in range(1, self.columnCount()))
        roomy = self.viewport().width() - others >= self.RUN_WIDTH
        mode = QHeaderView.ResizeMode.Stretch if roomy else QHeaderView.ResizeMode.Interactive
        if header.sectionResizeMode(0) != mode:
            header.setSectionResizeMode(0, mode)
            if not roomy:
                header.resizeSection(0, self.RUN_WIDTH)

    def set_rows(self, rows: list[tuple[str, dict[str, Any] | None, str]]) -> None:
        self.setSortingEnabled(False)
        self.setRowCount(len(rows))
        for r, (run, summary, colour) in enumerate(rows):
            self._set_run_cell(r, run, summary, colour)
            for c, column in enumerate(COLUMNS, start=1):
                self.setItem(r, c, self._value_cell(column, summary))
        self._mark_best()
        self.setSortingEnabled(True)
        QTimer.singleShot(0, self.fit_run_column)  # once the other columns fit their contents

    def _set_run_cell(self, r: int, run: str, summary: dict | None, colour: str) -> None:
        item = _Item(swatch(colour), run_label(run))
        item.setData(RUN_ROLE, run)
        item.setData(SORT_ROLE, run_label(run))
        error = (summary or {}).get("error")
        item.setToolTip(run + (f"\n\nNot evaluated: {error}" if error else ""))
        self.setItem(r, 0, item)

    def _value_cell(self, column: Column, summary: dict | None) -> _Item:
        if summary is None:
            return _Item("…")
        value = column.value(summary)
        missing = "…" if summary.get("pending") else "–"  # pending: not evaluated yet
        item = _Item(missing if value is None else column.text(summary))
        item.setData(SORT_ROLE, value)
        if isinstance(value, int | float):
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def _mark_best(self) -> None:
        for c, column in enumerate(COLUMNS, start=1):
            if not column.best_high:
                continue
            items = [i for r in range(self.rowCount()) if (i := self.item(r, c)) is not None]
            values = [i.data(SORT_ROLE) for i in items if i.data(SORT_ROLE) is not None]
            if len(values) < 2:
                continue
            for item in items:
                if item.data(SORT_ROLE) == max(values):
                    item.setFont(self._bold)

    def run_at(self, row: int) -> str:
        item = self.item(row, 0)
        if item is None:
            raise IndexError(f"no run in row {row}")
        return item.data(RUN_ROLE)

    def text(self, run: str, header: str) -> str:
        """The text shown for `run` in column `header`."""
        column = [h.text() if (h := self.horizontalHeaderItem(c)) is not None else ""
                  for c in range(self.columnCount())]
        for r in range(self.rowCount()):
            if self.run_at(r) == run and (item := self.item(r, column.index(header))) is not None:
                return item.text()
        raise KeyError(run)

    @Slot(int, int)
    def _on_cell_double_clicked(self, row: int, _column: int) -> None:
        self.run_activated.emit(self.run_at(row))
