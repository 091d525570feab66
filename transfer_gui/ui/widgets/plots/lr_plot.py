"""The learning-rate finder's plot: loss against the rate on a log axis, drawn as the sweep's
points arrive, the suggestion marked once there is one.

The x axis spans the whole sweep from its start (1e-5 … 1), so its decades are labelled before
the first point; the data are given in rates and pyqtgraph's log mode places them.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from ....core import SWEEP_END, SWEEP_START, smooth_losses
from .metric_plot import TRAIN

SUGGESTION = "#1b7f3b"
MARGIN = 0.12  # of a decade each side of the sweep: the end decades keep their labels


def rate_label(exponent: float) -> str:
    """A decade's label: 1e-5 … 1e-1, 1, 10, 100; nothing between decades."""
    if not math.isclose(exponent, round(exponent), abs_tol=1e-6):
        return ""
    power = round(exponent)
    return f"{10 ** power}" if 0 <= power <= 3 else f"1e{power}"


class RateAxis(pg.AxisItem):
    """A log-scale axis of learning rates, labelled at whole decades."""

    def logTickStrings(self, values: list[float], scale: float,
                       spacing: float) -> list[str]:
        return [rate_label(v + math.log10(scale)) for v in values]


class LRPlot(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, axisItems={"bottom": RateAxis("bottom")})
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
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.span = (SWEEP_START, SWEEP_END)
        self.setMinimumSize(420, 260)
        self.begin(SWEEP_START, SWEEP_END)

    def begin(self, start: float, end: float) -> None:
        """An empty plot for a sweep from `start` to `end`: the axis spans it already."""
        self.span = (start, end)
        self.lrs, self.losses = [], []
        for curve in (self.raw, self.smoothed, self.point):
            curve.setData([], [])
        self.line.setVisible(False)
        self._fit_x()

    def clear_result(self) -> None:
        self.begin(*self.span)

    def add_points(self, lrs: list[float], losses: list[float]) -> None:
        """Points that arrived during the sweep: the curves grow by them."""
        self.lrs.extend(lrs)
        self.losses.extend(losses)
        smoothed = smooth_losses(self.losses)
        self.raw.setData(self.lrs, self.losses)
        self.smoothed.setData(self.lrs, smoothed)
        self._fit_range(smoothed)

    def show_result(self, lrs: list[float], losses: list[float], smoothed: list[float],
                    suggestion: float | None) -> None:
        self.lrs, self.losses = list(lrs), list(losses)
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
        self._fit_range(smoothed)

    def _fit_range(self, smoothed: list[float]) -> None:
        """Show the descent and the minimum; a diverging tail may leave the top. The x axis
        keeps the sweep's span."""
        if not smoothed:
            return
        values = np.asarray(smoothed)
        low = int(np.argmin(values))
        bottom, top = float(values[low]), float(values[: low + 1].max())
        pad = max(top - bottom, 1e-3) * 0.15
        item = self.getPlotItem()
        item.setYRange(bottom - pad, top + 2 * pad, padding=0)
        self._fit_x()

    def _fit_x(self) -> None:
        start, end = self.span
        self.getPlotItem().setXRange(math.log10(start) - MARGIN, math.log10(end) + MARGIN,
                                     padding=0)

    @property
    def points(self) -> int:
        x, _ = self.smoothed.getData()
        return 0 if x is None else len(x)
