"""The layer tree: the network's layer groups and modules, with a tri-state "trainable" box.

The model mirrors the engine's layout of the network (names, kinds and parameter sizes; no
torch objects): each node knows the parameter names beneath it, and the set of trainable
parameter names is the only state. Ticking a node makes every parameter beneath it trainable;
a node with some trainable parameters shows "partial".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QHeaderView,
    QMenu,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

if TYPE_CHECKING:
    from ....core import ModelLayout

COLUMNS = ("Layer", "Type", "Parameters", "Trainable")
Index = QModelIndex | QPersistentModelIndex


@dataclass
class TreeItem:
    name: str
    path: str
    kind: str
    params: list[str]  # parameter names beneath, in model order
    parent: TreeItem | None = None
    children: list[TreeItem] = field(default_factory=list)
    row: int = 0


def build_items(layers: Sequence) -> list[TreeItem]:
    """Mirror the engine's layout `Layer`s (each knows the parameter names beneath it)."""

    def convert(layer, parent: TreeItem | None, row: int) -> TreeItem:
        item = TreeItem(layer.name, layer.path, layer.kind, list(layer.params), parent, row=row)
        item.children = [convert(c, item, i) for i, c in enumerate(layer.children)]
        return item

    return [convert(layer, None, i) for i, layer in enumerate(layers)]


def short_name(item: TreeItem) -> str:
    """The name without its parent's ("_bn1" under "_blocks.0", not "_blocks.0._bn1"): the
    tree's indentation already says what it is part of, and a narrow tree keeps it whole
    (the tooltip gives the full path)."""
    parent = item.parent.name if item.parent is not None else ""
    if parent and item.name.startswith(parent + ".") and len(item.name) > len(parent) + 1:
        return item.name[len(parent) + 1:]
    return item.name


def _is_checked(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, Qt.CheckState):
        return value != Qt.CheckState.Unchecked
    if not isinstance(value, int):
        raise TypeError(f"not a check state: {value!r}")
    return Qt.CheckState(value) != Qt.CheckState.Unchecked


def _fmt(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")


class LayerTreeModel(QAbstractItemModel):
    """Groups and modules with parameter counts; the check box means "trainable"."""

    trainable_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.roots: list[TreeItem] = []
        self.sizes: dict[str, int] = {}
        self.order: list[str] = []
        self.trainable: set[str] = set()
        self.locked = False  # check boxes show the state but cannot be changed
        self._bold = QFont()
        self._bold.setBold(True)

    def load(self, layout: ModelLayout, trainable: Iterable[str]) -> None:
        self.beginResetModel()
        self.sizes = dict(layout.sizes)
        self.order = list(layout.sizes)
        self.roots = build_items(layout.layers)
        self.trainable = set(trainable)
        self.endResetModel()

    def clear(self) -> None:
        """No network (it could not be built): an empty tree, not the previous one."""
        self.beginResetModel()
        self.roots, self.sizes, self.order, self.trainable = [], {}, [], set()
        self.endResetModel()

    # --- tree plumbing ----------------------------------------------------------------------

    def _item(self, index: Index) -> TreeItem | None:
        return index.internalPointer() if index.isValid() else None

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        siblings = self._children(self._item(parent))
        if 0 <= row < len(siblings) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, siblings[row])
        return QModelIndex()

    def parent(  # type: ignore[override]  # parent() without an index is QObject's
        self, index: Index = QModelIndex(),  # noqa: B008
    ) -> QModelIndex:
        item = self._item(index)
        if item is None or item.parent is None:
            return QModelIndex()
        return self.createIndex(item.parent.row, 0, item.parent)

    def _children(self, item: TreeItem | None) -> list[TreeItem]:
        return self.roots if item is None else item.children

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self._children(self._item(parent)))

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    # --- data -------------------------------------------------------------------------------

    def counts(self, item: TreeItem) -> tuple[int, int]:
        total = sum(self.sizes[p] for p in item.params)
        trainable = sum(self.sizes[p] for p in item.params if p in self.trainable)
        return trainable, total

    def check_state(self, item: TreeItem) -> Qt.CheckState:
        trainable, total = self.counts(item)
        if total and trainable == total:
            return Qt.CheckState.Checked
        return Qt.CheckState.PartiallyChecked if trainable else Qt.CheckState.Unchecked

    def data(self, index: Index, role: int = 0) -> object:
        item = self._item(index)
        if item is None:
            return None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            trainable, total = self.counts(item)
            return (short_name(item), "" if item.kind == "group" else item.kind,
                    _fmt(total), _fmt(trainable))[column]
        if role == Qt.ItemDataRole.CheckStateRole and column == 0 and item.params:
            return self.check_state(item)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column == 3:
            trainable, _ = self.counts(item)
            return QColor("#1b7f3b") if trainable else QColor("#8a8f98")
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.path} ({item.kind})" if item.kind != "group" \
                else f"layer group {item.name}"
        if role == Qt.ItemDataRole.FontRole and item.kind == "group":
            return self._bold
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        item = self._item(index)
        if item is None:
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0 and item.params and not self.locked:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index: Index, value: object, role: int = 0) -> bool:
        item = self._item(index)
        if item is None or role != Qt.ItemDataRole.CheckStateRole or self.locked:
            return False
        on = _is_checked(value)
        if self.check_state(item) == Qt.CheckState.PartiallyChecked:
            on = True  # clicking a partial node makes all of it trainable
        self.set_params(item.params, on)
        return True

    # --- editing ----------------------------------------------------------------------------

    def set_params(self, names: Iterable[str], on: bool) -> None:
        names = set(names)
        self.trainable = self.trainable | names if on else self.trainable - names
        self._changed()

    def set_trainable(self, names: Iterable[str]) -> None:
        self.trainable = set(names)
        self._changed()

    def freeze_above(self, item: TreeItem) -> None:
        """Freeze every parameter that comes before this node; leave the rest as it is."""
        if item.params:
            first = self.order.index(item.params[0])
            self.set_params(self.order[:first], False)

    def train_from(self, item: TreeItem) -> None:
        """This node and everything after it train; everything before it is frozen."""
        if item.params:
            first = self.order.index(item.params[0])
            self.trainable = set(self.order[first:])
            self._changed()

    def find(self, path: str) -> QModelIndex:
        """The index of the node with this path (or group name)."""
        def walk(items: list[TreeItem]) -> TreeItem | None:
            for item in items:
                if item.path == path:
                    return item
                found = walk(item.children)
                if found:
                    return found
            return None

        item = walk(self.roots)
        return self.createIndex(item.row, 0, item) if item else QModelIndex()

    def _changed(self) -> None:
        self._emit_all(None)
        self.trainable_changed.emit()

    def _emit_all(self, parent: TreeItem | None) -> None:
        children = self._children(parent)
        if not children:
            return
        first = self.createIndex(0, 0, children[0])
        last = self.createIndex(len(children) - 1, len(COLUMNS) - 1, children[-1])
        self.dataChanged.emit(first, last)
        for child in children:
            self._emit_all(child)


ROW_GAP = 6  # pixels between rows, so that the check boxes of neighbours do not touch


class _RoomyRows(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width(), size.height() + ROW_GAP)


class LayerTreeView(QTreeView):
    """The tree with its context menu ("Freeze everything above this", "Train from here on")."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree_model = LayerTreeModel(self)
        self.setModel(self.tree_model)
        self.setItemDelegate(_RoomyRows(self))
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu_requested)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.setIndentation(14)

    NARROW = 480  # below this width the Type column (also in the tooltips) gives way to names

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        narrow = self.viewport().width() < self.NARROW
        if self.isColumnHidden(1) != narrow:
            self.setColumnHidden(1, narrow)

    def set_locked(self, locked: bool) -> None:
        """Show what trains without letting it be edited (a classic head trains nothing)."""
        self.tree_model.locked = locked
        self.tree_model.layoutChanged.emit()

    def _on_menu_requested(self, pos) -> None:
        index = self.indexAt(pos)
        item = self.tree_model._item(index)
        if item is None or self.tree_model.locked:
            return
        menu = QMenu(self)
        above = QAction("Freeze everything above this", menu)
        above.triggered.connect(lambda: self.tree_model.freeze_above(item))
        start = QAction("Train from here on", menu)
        start.triggered.connect(lambda: self.tree_model.train_from(item))
        menu.addAction(above)
        menu.addAction(start)
        menu.exec(self.viewport().mapToGlobal(pos))
