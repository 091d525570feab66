"""The model zoo as a table: a model over the rows and a filter proxy (search as you type,
family, size, input resolution, pretraining, weights on this computer), sortable by any column.

The filter decides every row in one pass over precomputed fields when a criterion changes, so
the proxy's per-row question is a lookup: 2,000 rows filter in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)

from ....core import PRETRAINING_TEXT
from ...engine_loader import BackboneRow
from .run_style import count

Index = QModelIndex | QPersistentModelIndex
COLUMNS = ("Model", "Source", "Family", "Params", "Input", "Pretraining", "Top-1", "GFLOPs",
           "Speed", "Weights")
TIPS = {
    "Top-1": "ImageNet-1k top-1 accuracy, where the library states it",
    "Speed": "Images per second on this computer (Measure speed), batch of 4",
    "Weights": "bundled: installed with the app · cached: already downloaded (torch or "
               "Hugging Face cache) · download: fetched on first use",
    "Pretraining": "What the network learnt from first: ImageNet-1k, ImageNet-21k/22k, "
                   "self-supervised (DINO, MAE, …) or image-text (CLIP, SigLIP, …)",
}
# (label, lowest, highest): parameters in millions, input size in pixels
SIZES = (("any size", 0.0, 1e9), ("< 10 M", 0.0, 10.0), ("10–30 M", 10.0, 30.0),
         ("30–100 M", 30.0, 100.0), ("> 100 M", 100.0, 1e9))
RESOLUTIONS = (("any input", 0, 10_000), ("≤ 224 px", 0, 224), ("225–320 px", 225, 320),
               ("> 320 px", 321, 10_000))
NUMERIC = {3, 4, 6, 7, 8}


def _cell(row: BackboneRow, column: int) -> str:
    if column == 0:
        return row.title if "/" not in row.name else row.name.split("/", 1)[1]
    values: tuple[Callable[[], str], ...] = (
        lambda: row.source,
        lambda: row.family,
        lambda: count(row.params) if row.params else "–",  # 6.7 B, not 6720.1 M
        lambda: f"{row.image_size} px",
        lambda: PRETRAINING_TEXT.get(row.pretraining, row.pretraining),
        lambda: f"{row.top1:.1f} %" if row.top1 else "–",
        lambda: f"{row.gflops:.2f}" if row.gflops else "–",
        lambda: speed_text(row.speed),
        lambda: row.weights,
    )
    return values[column - 1]()


def speed_text(rate: float | None) -> str:
    """Images per second: whole numbers, one decimal under 10."""
    if not rate:
        return "–"
    return f"{rate:.0f}/s" if rate >= 10 else f"{rate:.1f}/s"


def _key(row: BackboneRow, column: int) -> Any:
    """What a column sorts by: numbers as numbers (unknown last), words in lower case."""
    numbers = {3: row.params or None, 4: row.image_size, 6: row.top1, 7: row.gflops,
               8: row.speed}
    if column in numbers:
        value = numbers[column]
        return float(value) if value is not None else float("-inf")
    return _cell(row, column).lower()


class ZooTableModel(QAbstractTableModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.rows: list[BackboneRow] = []

    def set_rows(self, rows: list[BackboneRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def update_row(self, name: str, **changes: Any) -> None:
        for number, row in enumerate(self.rows):
            if row.name == name:
                self.rows[number] = replace(row, **changes)
                self.dataChanged.emit(self.index(number, 0),
                                      self.index(number, len(COLUMNS) - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cell(row, column)
        if role == Qt.ItemDataRole.UserRole:
            return _key(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return f"{row.name}: {row.description}" if row.description else row.name
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and column == 0 and row.recommended:
            from PySide6.QtGui import QFont

            font = QFont()
            font.setBold(True)
            return font
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS.get(COLUMNS[section])
        return None


@dataclass(frozen=True)
class Criteria:
    text: str = ""
    family: str = ""  # "" = any
    size: int = 0  # index into SIZES
    resolution: int = 0  # index into RESOLUTIONS
    pretraining: str = ""  # a PRETRAINING_TEXT key, "" = any
    here_only: bool = False  # weights on this computer (bundled or cached)


def accepts(row: BackboneRow, words: list[str], haystack: str, criteria: Criteria) -> bool:
    if criteria.family and row.family != criteria.family:
        return False
    if criteria.pretraining and row.pretraining != criteria.pretraining:
        return False
    if criteria.here_only and row.weights not in ("bundled", "cached"):
        return False
    _, low, high = SIZES[criteria.size]
    if criteria.size and not (row.params and low <= row.params / 1e6 < high):
        return False
    _, smallest, largest = RESOLUTIONS[criteria.resolution]
    if not smallest <= row.image_size <= largest:
        return False
    return all(word in haystack for word in words)


def haystack(row: BackboneRow) -> str:
    return " ".join((row.name, row.title, row.family, row.source, row.pretraining,
                     PRETRAINING_TEXT.get(row.pretraining, ""), row.description)).lower()


class ZooFilter(QSortFilterProxyModel):
    def __init__(self, source: ZooTableModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSourceModel(source)
        self.setSortRole(Qt.ItemDataRole.UserRole)
        self.criteria = Criteria()
        self._accepted: list[bool] = []
        self._haystacks: list[str] = []
        source.modelReset.connect(self._on_reset)

    def _on_reset(self) -> None:
        self._haystacks = [haystack(row) for row in self.zoo().rows]
        self._refilter()

    def zoo(self) -> ZooTableModel:
        model = self.sourceModel()
        assert isinstance(model, ZooTableModel)
        return model

    def set_criteria(self, **changes: Any) -> None:
        self.criteria = replace(self.criteria, **changes)
        self._refilter()

    def _refilter(self) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+: the rows' filter, announced
            self.beginFilterChange()
            self._decide()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._decide()
            self.invalidateRowsFilter()

    def _decide(self) -> None:
        words = self.criteria.text.lower().split()
        rows = self.zoo().rows
        if len(self._haystacks) != len(rows):
            self._haystacks = [haystack(row) for row in rows]
        self._accepted = [accepts(row, words, text, self.criteria)
                          for row, text in zip(rows, self._haystacks, strict=True)]

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        return source_row < len(self._accepted) and self._accepted[source_row]

    def lessThan(self, left: Index, right: Index) -> bool:
        a, b = left.data(Qt.ItemDataRole.UserRole), right.data(Qt.ItemDataRole.UserRole)
        if type(a) is not type(b):
            return str(a) < str(b)
        return bool(a < b)
