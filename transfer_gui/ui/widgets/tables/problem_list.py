"""The Data page's Problems tab: a table of what is wrong with which file, or a line saying
that nothing is."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ....core import FolderScan, count


class ProblemList(QStackedWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Problem", ""])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 280)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setObjectName("pageSubtitle")
        self.addWidget(self.table)
        self.addWidget(self.empty)

    def show_scan(self, scan: FolderScan) -> None:
        problems = sorted(scan.problems, key=lambda p: (p.severity != "error", p.path))
        self.table.setRowCount(len(problems))
        for row, problem in enumerate(problems):
            for col, item in enumerate(_row(problem, scan.root)):
                self.table.setItem(row, col, item)
        self.empty.setText(f"No problems found in {count(len(scan.samples), 'file')}.")
        self.setCurrentWidget(self.table if problems else self.empty)


def _row(problem, root: str) -> tuple[QTableWidgetItem, ...]:
    inside = problem.path.startswith(root)
    name = QTableWidgetItem(os.path.relpath(problem.path, root) if inside else problem.path)
    name.setToolTip(problem.path)
    name.setData(Qt.ItemDataRole.UserRole, problem.path)
    reason = QTableWidgetItem(problem.reason)
    reason.setToolTip(problem.reason)
    error = problem.severity == "error"
    kind = QTableWidgetItem("skipped" if error else "warning")
    kind.setForeground(QColor("#b33a3a") if error else QColor("#a66a00"))
    return name, reason, kind
