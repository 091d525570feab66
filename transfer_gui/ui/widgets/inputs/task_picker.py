"""The task picker of a labels CSV's columns, and the Data page's overview of the tasks."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....core import FolderScan, task_counts


class TaskPicker(QWidget):
    """A choice of one task (a label column) for a view that shows one task at a time.
    Hidden while there is only one task, unless told to stay (`always`)."""

    task_chosen = Signal(str)

    def __init__(self, always: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.always = always
        self.names: list[str] = []
        self.combo = QComboBox()
        self.combo.setToolTip("The label column whose figures this view shows")
        self.combo.currentIndexChanged.connect(self._on_index_changed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Task:"))
        layout.addWidget(self.combo, 1)
        self.setVisible(False)

    def set_tasks(self, names: list[str], texts: list[str] | None = None) -> None:
        """Offer `names` (shown as `texts`), keeping the task chosen before when it is one of
        them; says nothing (`task_chosen` is not sent)."""
        kept = self.current()
        self.names = list(names)
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(texts or names)
        if kept in self.names:
            self.combo.setCurrentIndex(self.names.index(kept))
        self.combo.blockSignals(False)
        self.setVisible(len(names) > 1 or (self.always and bool(names)))

    def current(self) -> str:
        index = self.combo.currentIndex()
        return self.names[index] if 0 <= index < len(self.names) else ""

    def choose(self, name: str) -> None:
        self.combo.setCurrentIndex(self.names.index(name))

    @Slot(int)
    def _on_index_changed(self, index: int) -> None:
        if 0 <= index < len(self.names):
            self.task_chosen.emit(self.names[index])


class TaskOverview(QWidget):
    """A labels CSV's tasks: pick one and see its classes with their image counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.counts: dict[str, list[tuple[str, int]]] = {}
        self.kinds: dict[str, str] = {}
        self.picker = TaskPicker(always=True)
        self.picker.task_chosen.connect(self._on_task_chosen)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "Images", "Share"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.addWidget(self.picker)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)

    def show_scan(self, scan: FolderScan) -> None:
        """The tasks of `scan` (none for a folder of classes)."""
        tasks = scan.tasks
        self.counts = {t.name: list(zip(t.classes, n, strict=True))
                       for t, n in zip(tasks, task_counts(scan), strict=True)}
        self.kinds = {t.name: "multi-label: an image may carry several"
                      if t.multi_label else "one class per image" for t in tasks}
        self.picker.set_tasks([t.name for t in tasks],
                              [f"{t.name} ({len(t.classes)} "
                               f"{'labels' if t.multi_label else 'classes'})" for t in tasks])
        self._on_task_chosen(self.picker.current())

    @Slot(str)
    def _on_task_chosen(self, name: str) -> None:
        rows = self.counts.get(name, [])
        total = max(sum(n for _, n in rows), 1)
        self.note.setText(f"Column <b>{name}</b>: {self.kinds[name]}." if name else "")
        self.table.setRowCount(len(rows))
        for row, (label, n) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(label))
            for col, text in ((1, str(n)), (2, f"{n / total:.1%}")):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
