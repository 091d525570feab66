"""The learning-rate finder's plot: loss against the rate on a log axis, the suggestion marked."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from .metric_plot import TRAIN

SUGGESTION = "#1b7f3b"


class LRPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        item = self.getPlotItem()
        item.setLogMode(x=True, y=False)
        item.setLabel("bottom", "learning rate")
        item.setLabel("left", "training loss")
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        # bottom left: the loss starts high there and ends low on the right
        legend = item.addLegend(offset=(10, -10), labelTextSize="9pt")
        legend.setBrush(pg.mkBrush(255, 255, 255, 210))
        self.raw = item.plot(pen=pg.mkPen(TRAIN + "50", width=1), name="loss per step")
        self.smoothed = item.plot(pen=pg.mkPen(TRAIN, width=2), name="smoothed")
        self.point = item.plot(pen=None, symbol="o", symbolSize=11, symbolBrush=SUGGESTION,
                               symbolPen=pg.mkPen("w", width=1.5), name="suggestion")
        dashed = pg.mkPen(SUGGESTION, width=1.5, style=Qt.PenStyle.DashLine)
        self.line = pg.InfiniteLine(angle=90, pen=dashed)
        item.addItem(self.line)
        self.line.setVisible(False)
        self.setMinimumSize(420, 260)

    def clear_result(self) -> None:
        for curve in (self.raw, self.smoothed, self.point):
            curve.setData([], [])
        self.line.setVisible(False)

    def show_result(self, lrs: list[float], losses: list[float], smoothed: list[float],
                    suggestion: float | None) -> None:
        self.raw.setData(lrs, losses)
        self.smoothed.setData(lrs, smoothed)
        if suggestion is not None and lrs:
            at = int(np.argmin(np.abs(np.log(lrs) - math.log(suggestion))))
            self.point.setData([suggestion], [smoothed[at]])
            self.line.setValue(math.log10(suggestion))  # the view's x is log10(rate)
            self.line.setVisible(True)
        else:
            self.point.setData([], [])
            self.line.setVisible(False)
        self._fit_range(lrs, smoothed)

    def _fit_range(self, lrs: list[float], smoothed: list[float]) -> None:
        """Show the descent and the minimum; a diverging tail may leave the top."""
        if not smoothed:
            return
        values = np.asarray(smoothed)
        low = int(np.argmin(values))
        bottom, top = float(values[low]), float(values[: low + 1].max())
        pad = max(top - bottom, 1e-3) * 0.15
        item = self.getPlotItem()
        item.setYRange(bottom - pad, top + 2 * pad, padding=0)
        item.setXRange(math.log10(lrs[0]), math.log10(lrs[-1]), padding=0.02)

    @property
    def points(self) -> int:
        x, _ = self.smoothed.getData()
        return 0 if x is None else len(x)
