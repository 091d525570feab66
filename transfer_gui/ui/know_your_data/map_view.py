"""The embedding map: one dot per image, coloured by class (pyqtgraph).

Each class is one `ScatterPlotItem` with a single brush, so 20,000 points cost one update per
redraw; the hovered point and the selection are drawn by two more items on top. Hovering shows
the image and its file; clicking a point opens the file; dragging with the lasso on (the
default mode of the left button) selects the points inside the drawn outline.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from ...core import class_colour, thumbnail
from ..qimage import pil_to_qimage

HOVER_PIXELS = 8  # how near (in screen pixels) the cursor must be to a point
THUMB = 112


def inside(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which of `points` (N x 2) lie inside `polygon` (M x 2), by ray casting, vectorised."""
    if len(polygon) < 3 or not len(points):
        return np.zeros(len(points), dtype=bool)
    x, y = points[:, 0][:, None], points[:, 1][:, None]
    ax, ay = polygon[:, 0][None, :], polygon[:, 1][None, :]
    bx, by = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    crosses = (ay > y) != (by > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = ax + (y - ay) * (bx - ax) / (by - ay)
    return (crosses & (x < at)).sum(axis=1) % 2 == 1


class _LassoBox(pg.ViewBox):
    """A view box whose left-button drag draws a lasso (the right button still zooms)."""

    def __init__(self, owner: EmbeddingMap) -> None:
        super().__init__()
        self.owner = owner
        self.trail: list[QPointF] = []
        self.outline = pg.QtWidgets.QGraphicsPathItem()
        self.outline.setPen(QPen(QColor("#2b2f36"), 0, Qt.PenStyle.DashLine))
        self.addItem(self.outline, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton or not self.owner.lasso:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self.trail = [self.mapSceneToView(ev.buttonDownScenePos())]
        self.trail.append(self.mapSceneToView(ev.scenePos()))
        path = QPainterPath(self.trail[0])
        for point in self.trail[1:]:
            path.lineTo(point)
        self.outline.setPath(path)
        if ev.isFinish():
            polygon = np.array([[p.x(), p.y()] for p in self.trail])
            self.trail = []
            self.outline.setPath(QPainterPath())
            self.owner.select(np.flatnonzero(inside(self.owner.coords, polygon)))


class HoverCard(QFrame):
    """The hovered image and its file, floating over the map."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.Box)
        self.setStyleSheet("HoverCard { background: white; border: 1px solid #888; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.image = QLabel()
        self.image.setFixedSize(THUMB, THUMB)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setMaximumWidth(240)
        self.text.setWordWrap(True)
        layout.addWidget(self.image)
        layout.addWidget(self.text)
        self.hide()

    def show_image(self, path: str, text: str) -> None:
        try:
            self.image.setPixmap(QPixmap.fromImage(pil_to_qimage(thumbnail(path, THUMB))))
        except Exception:  # noqa: BLE001 - an unreadable file still shows its name
            self.image.setText("(unreadable)")
        self.text.setText(text)
        self.adjustSize()
        self.show()
        self.raise_()


class EmbeddingMap(QWidget):
    """A 2-D map of images. `activated(index)` on a click; `selected(indices)` after a lasso."""

    activated = Signal(int)
    selected = Signal(list)
    hovered = Signal(int)  # -1 when the cursor leaves every point

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.box = _LassoBox(self)
        self.plot = pg.PlotWidget(viewBox=self.box, title=title)
        self.plot.setBackground("w")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(True, True)
        self.legend = self.plot.addLegend(offset=(5, 5))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.card = HoverCard(self)
        self.coords = np.zeros((0, 2))
        self.labels = np.zeros(0, dtype=int)
        self.paths: list[str] = []
        self.texts: list[str] = []
        self.lasso = True
        self.selection = np.zeros(0, dtype=int)
        self.hover_index = -1
        self.layers: list[pg.ScatterPlotItem] = []
        self.marked = pg.ScatterPlotItem(size=11, pen=pg.mkPen("#000", width=1.5),
                                         brush=pg.mkBrush(0, 0, 0, 0))
        self.pointer = pg.ScatterPlotItem(size=15, pen=pg.mkPen("#000", width=2),
                                          brush=pg.mkBrush(0, 0, 0, 0))
        self.plot.scene().sigMouseMoved.connect(self._on_moved)
        self.plot.scene().sigMouseClicked.connect(self._on_clicked)

    def set_points(self, coords: np.ndarray, labels: np.ndarray, classes: list[str],
                   paths: list[str], texts: list[str] | None = None) -> None:
        """Show `coords` (N x 2), one item per class, and forget the selection."""
        self.plot.clear()
        self.legend.clear()
        self.coords, self.labels = np.asarray(coords, dtype=float), np.asarray(labels)
        self.paths, self.texts = list(paths), list(texts or paths)
        self.layers = []
        size = 7 if len(coords) < 3000 else 4
        for index, name in enumerate(classes):
            rows = self.labels == index
            item = pg.ScatterPlotItem(self.coords[rows, 0], self.coords[rows, 1], size=size,
                                      pen=None, brush=pg.mkBrush(*class_colour(index), 200),
                                      name=name)
            self.plot.addItem(item)
            self.layers.append(item)
        self.plot.addItem(self.marked)
        self.plot.addItem(self.pointer)
        self.select(np.zeros(0, dtype=int), announce=False)
        self.pointer.setData([], [])
        self.plot.autoRange()

    def select(self, indices: np.ndarray, announce: bool = True) -> None:
        self.selection = np.asarray(indices, dtype=int)
        chosen = self.coords[self.selection] if len(self.selection) else np.zeros((0, 2))
        self.marked.setData(chosen[:, 0], chosen[:, 1])
        if announce:
            self.selected.emit(self.selection.tolist())

    def index_at(self, scene_pos: QPointF) -> int:
        """The point nearest the scene position, within `HOVER_PIXELS`; else -1."""
        if not len(self.coords) or not self.box.sceneBoundingRect().contains(scene_pos):
            return -1
        view = self.box.mapSceneToView(scene_pos)
        px, py = self.box.viewPixelSize()  # view units per screen pixel
        d = ((self.coords[:, 0] - view.x()) / px) ** 2 + ((self.coords[:, 1] - view.y()) / py) ** 2
        best = int(np.argmin(d))
        return best if d[best] <= HOVER_PIXELS ** 2 else -1

    def scene_pos_of(self, index: int) -> QPointF:
        x, y = self.coords[index]
        return self.box.mapViewToScene(QPointF(float(x), float(y)))

    def _on_moved(self, scene_pos: QPointF) -> None:
        index = self.index_at(scene_pos)
        if index == self.hover_index:
            return
        self.hover_index = index
        self.hovered.emit(index)
        if index < 0:
            self.card.hide()
            self.pointer.setData([], [])
            return
        x, y = self.coords[index]
        self.pointer.setData([x], [y])
        self.card.show_image(self.paths[index], self.texts[index])
        spot = self.plot.mapFromScene(scene_pos)
        left = spot.x() + 16 if spot.x() + 16 + self.card.width() < self.width() \
            else spot.x() - 16 - self.card.width()
        top = min(max(0, spot.y() - self.card.height() // 2), self.height() - self.card.height())
        self.card.move(int(left), int(top))

    def _on_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        index = self.index_at(event.scenePos())
        if index >= 0:
            self.activated.emit(index)
