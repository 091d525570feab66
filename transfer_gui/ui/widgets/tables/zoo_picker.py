"""The Model page's picker: a search box and filters over the zoo's table, the count of what
they leave, and the selected model's id."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ....core import PRETRAINING_TEXT
from ...engine_loader import BackboneRow
from .zoo_table import COLUMNS, RESOLUTIONS, SIZES, ZooFilter, ZooTableModel


class ZooPicker(QWidget):
    """Searching and filtering never choose a model: `chosen` is emitted only when a row is
    picked (a click, the keyboard, `select`); the chosen model stays chosen while hidden."""

    chosen = Signal(str)  # a model id, when the user (or `select`) picks it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._chosen = ""  # the model picked last
        self._filtering = False  # rows come and go: the view's selection follows, unasked
        self.table_model = ZooTableModel(self)
        self.proxy = ZooFilter(self.table_model, self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search: dinov2, convnext, in22k, timm…")
        self.search.setToolTip("Every word must appear in the model's name, family, "
                               "pretraining or source; the list narrows as you type")
        self.search.setClearButtonEnabled(True)
        for button in self.search.findChildren(QToolButton):
            button.setToolTip("Clear the search")
        self.search.textChanged.connect(lambda text: self._set(text=text))
        self.family = self._combo("Family", [("any family", "")])
        self.sizes = self._combo("Size (parameters)", [(s[0], i) for i, s in enumerate(SIZES)])
        self.resolution = self._combo("Input resolution",
                                      [(r[0], i) for i, r in enumerate(RESOLUTIONS)])
        self.pretraining = self._combo("What the network was pretrained on", [
            ("any pretraining", ""), *((text, key) for key, text in PRETRAINING_TEXT.items())])
        self.here_only = QCheckBox("Weights on this computer")
        self.here_only.setToolTip("Only models that work offline: bundled with the app, or "
                                  "already in torch's or Hugging Face's download cache")
        self.here_only.toggled.connect(lambda on: self._set(here_only=on))
        self.count = QLabel("")
        self.count.setObjectName("zooCount")
        self.view = self._view()
        filters = QHBoxLayout()
        for widget in (self.family, self.sizes, self.resolution, self.pretraining):
            filters.addWidget(widget, 1)  # they share the row: whole words when it is wide
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.here_only)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

    def _combo(self, tip: str, items: list[tuple[str, object]]) -> QComboBox:
        combo = QComboBox()
        combo.setToolTip(tip)
        # narrow when the page is: the open list still shows whole entries
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(4)
        for text, value in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(self._on_combo)
        return combo

    def _view(self) -> QTableView:
        view = QTableView()
        view.setModel(self.proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the curated order until clicked
        view.setWordWrap(False)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(22)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        widths = {"Model": 200, "Source": 74, "Family": 84, "Params": 62, "Input": 56,
                  "Pretraining": 110, "Top-1": 56, "GFLOPs": 58, "Speed": 56}
        for column, name in enumerate(COLUMNS):
            if name in widths:
                header.resizeSection(column, widths[name])
        # the selection, not the current row: selecting the same row again after a clear
        # (a project reopened) is a choice too
        view.selectionModel().selectionChanged.connect(self._on_selection)
        return view

    # --- rows -------------------------------------------------------------------------------

    def set_rows(self, rows: list[BackboneRow]) -> None:
        chosen = self.current()
        self.table_model.set_rows(rows)
        families = sorted({row.family for row in rows if row.family})
        self.family.blockSignals(True)
        wanted = self.family.currentData()
        self.family.clear()
        self.family.addItem("any family", "")
        for family in families:
            self.family.addItem(family, family)
        self.family.setCurrentIndex(max(self.family.findData(wanted), 0))
        self.family.blockSignals(False)
        self._show_count()
        if chosen is not None:
            self.select(chosen.name)

    def update_row(self, name: str, **changes: object) -> None:
        self.table_model.update_row(name, **changes)

    def rows(self) -> list[BackboneRow]:
        return self.table_model.rows

    def select(self, name: str) -> bool:
        """Select `name` (clearing the filters if they hide it); False if it is not listed."""
        number = next((i for i, row in enumerate(self.table_model.rows) if row.name == name),
                      None)
        if number is None:
            return False
        index = self.proxy.mapFromSource(self.table_model.index(number, 0))
        if not index.isValid():
            self.clear_filters()
            index = self.proxy.mapFromSource(self.table_model.index(number, 0))
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)
        return True

    def current(self) -> BackboneRow | None:
        """The model picked last, shown or hidden by the filters."""
        return next((row for row in self.table_model.rows if row.name == self._chosen), None)

    def _selected(self) -> BackboneRow | None:
        selected = self.view.selectionModel().selectedRows()
        if len(selected) != 1:
            return None
        return self.table_model.rows[self.proxy.mapToSource(selected[0]).row()]

    def _index_of(self, name: str) -> QModelIndex:
        number = next((i for i, row in enumerate(self.table_model.rows) if row.name == name),
                      None)
        return (self.proxy.mapFromSource(self.table_model.index(number, 0))
                if number is not None else QModelIndex())

    def clear_filters(self) -> None:
        for widget in (self.search, self.family, self.sizes, self.resolution, self.pretraining,
                       self.here_only):
            widget.blockSignals(True)
        self.search.clear()
        for combo in (self.family, self.sizes, self.resolution, self.pretraining):
            combo.setCurrentIndex(0)
        self.here_only.setChecked(False)
        for widget in (self.search, self.family, self.sizes, self.resolution, self.pretraining,
                       self.here_only):
            widget.blockSignals(False)
        self._set(text="", family="", size=0, resolution=0, pretraining="", here_only=False)

    # --- filters ----------------------------------------------------------------------------

    @Slot()
    def _on_combo(self) -> None:
        self._set(family=self.family.currentData() or "", size=self.sizes.currentData() or 0,
                  resolution=self.resolution.currentData() or 0,
                  pretraining=self.pretraining.currentData() or "")

    def _set(self, **changes: object) -> None:
        self._filtering = True
        try:
            self.proxy.set_criteria(**changes)
            self._show_chosen()
        finally:
            self._filtering = False
        self._show_count()

    def _show_chosen(self) -> None:
        """The chosen model is selected while the filters show it; no other row ever is."""
        index = self._index_of(self._chosen)
        selection = self.view.selectionModel()
        if index.isValid():
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                      | QItemSelectionModel.SelectionFlag.Rows)
        else:
            selection.clearSelection()
            selection.clearCurrentIndex()

    def _show_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.table_model.rowCount()
        self.count.setText(f"{shown:,} of {total:,} models" if shown != total
                           else f"{total:,} models")

    @Slot()
    def _on_selection(self, *_: object) -> None:
        row = self._selected()
        if row is not None and not self._filtering:
            self._chosen = row.name
            self.chosen.emit(row.name)
