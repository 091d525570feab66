"""Validation curves of several runs overlaid: accuracy and loss per epoch, a colour per run,
and one legend below both plots (inside a plot it would hide the curves)."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QWidget

from .metric_plot import style_plot

LEGEND_COLUMNS = 3


@dataclass(frozen=True)
class RunCurve:
    key: str  # the run folder
    label: str
    colour: str
    epochs: list[float]
    val_acc: list[float]
    val_loss: list[float]


def curve_of(key: str, label: str, colour: str, history: list[dict]) -> RunCurve:
    """The validation points of a run's per-epoch history (epochs without validation skipped)."""
    rows = [h for h in history if h.get("val_acc") is not None]
    return RunCurve(key, label, colour, [float(h["epoch"]) for h in rows],
                    [float(h["val_acc"]) for h in rows],
                    [float(h["val_loss"]) if h.get("val_loss") is not None else float("nan")
                     for h in rows])


class RunCurves(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = self.ci
        self.acc_plot = layout.addPlot(row=0, col=0)
        self.loss_plot = layout.addPlot(row=0, col=1)
        style_plot(self.acc_plot, "Validation accuracy", "accuracy")
        style_plot(self.loss_plot, "Validation loss", "cross-entropy")
        self.acc_plot.setYRange(0, 1, padding=0.05)  # room for the 1.0 label
        self.legend = pg.LegendItem(labelTextSize="9pt", colCount=LEGEND_COLUMNS)
        layout.addItem(self.legend, row=1, col=0, colspan=2)
        self.items: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.setMinimumHeight(260)

    def set_curves(self, curves: list[RunCurve]) -> None:
        """Replace every curve (a few runs: cheaper to redraw than to diff)."""
        self.legend.clear()
        for acc, loss in self.items.values():
            self.acc_plot.removeItem(acc)
            self.loss_plot.removeItem(loss)
        self.items = {}
        for curve in curves:
            acc = self._add(self.acc_plot, curve, curve.val_acc)
            self.items[curve.key] = (acc, self._add(self.loss_plot, curve, curve.val_loss))
            self.legend.addItem(acc, curve.label)
        self._fit_legend()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if hasattr(self, "legend"):  # resized while being built, before the legend exists
            self._fit_legend()

    def _fit_legend(self) -> None:
        """As many legend columns as fit the width: a legend wider than the view would push
        the plots past its right edge, where they are cut off."""
        widest = max((label.boundingRect().width() for _, label in self.legend.items), default=0)
        fits = int(self.width() // (widest + 50)) if widest else LEGEND_COLUMNS
        columns = max(1, min(LEGEND_COLUMNS, fits))
        if columns != self.legend.columnCount:
            self.legend.setColumnCount(columns)

    @staticmethod
    def _add(plot: pg.PlotItem, curve: RunCurve, values: list[float]) -> pg.PlotDataItem:
        pen = pg.mkPen(curve.colour, width=2)
        return plot.plot(curve.epochs, values, pen=pen, symbol="o", symbolSize=7,
                         symbolBrush=curve.colour, symbolPen=None, connect="finite")

    def legend_labels(self) -> list[str]:
        return [label.text for _, label in self.legend.items]

    def points(self, key: str) -> tuple[int, int]:
        """How many accuracy and loss points the curves of run `key` have."""
        acc, loss = (len(item.getData()[0] if item.getData()[0] is not None else [])
                     for item in self.items[key])
        return acc, loss
