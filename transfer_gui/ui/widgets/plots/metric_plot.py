"""Live training curves with pyqtgraph: persistent curves fed from growing numpy buffers.

The x axis is in epochs everywhere: a training step at batch b of epoch e sits at
e - 1 + b / steps_per_epoch, and per-epoch points sit at whole numbers, so step and epoch curves
share one axis.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QGridLayout, QWidget

from ....core import read_steps, run_info

pg.setConfigOptions(antialias=True, background="w", foreground="#2b2f36")

TRAIN = "#3b6fd8"
VAL = "#e0672b"
LR = "#7b52c7"
TARGET = "#2a9d6f"
TASK_COLOURS = ("#b5179e", "#2a9d6f", "#8a6d00", "#0b7285", "#6b7280")  # a curve per task


class Series:
    """x/y values in doubling numpy buffers, drawn by one persistent curve."""

    def __init__(self, curve: pg.PlotDataItem) -> None:
        self.curve = curve
        self.x = np.empty(256)
        self.y = np.empty(256)
        self.n = 0

    def extend(self, xs: list[float], ys: list[float]) -> None:
        need = self.n + len(xs)
        if need > len(self.x):
            size = max(need, 2 * len(self.x))
            self.x = np.resize(self.x, size)
            self.y = np.resize(self.y, size)
        self.x[self.n:need] = xs
        self.y[self.n:need] = ys
        self.n = need

    def clear(self) -> None:
        self.n = 0

    def draw(self) -> None:
        self.curve.setData(self.x[: self.n], self.y[: self.n])

    @property
    def values(self) -> np.ndarray:
        return self.y[: self.n]


class EpochAxis(pg.AxisItem):
    """Ticks on whole epochs only, spaced so that their labels never crowd."""

    STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list:
        span = maxVal - minVal
        if span <= 0 or size <= 0:
            return super().tickSpacing(minVal, maxVal, size)
        label_px = 14 + 7 * len(str(int(abs(maxVal))))  # room for one label and a gap
        fits = max(size / label_px, 1.0)
        step = next((s for s in self.STEPS if span / s <= fits), self.STEPS[-1])
        return [(float(step), 0.0)]


class ScientificAxis(pg.AxisItem):
    """Ticks in scientific notation ("2e-3", "1.5e-3"): learning rates span decades, and a
    scale factor in the label ("x1e-06") reads wrong."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        step = abs(spacing * scale)
        return [scientific(v * scale, _digits(v * scale, step)) for v in values]


def _digits(value: float, step: float) -> int:
    """Decimals of the mantissa that show `value` to the precision of the tick `step`
    (1.5e-3 between ticks 5e-4 apart needs one: "1.5e-3", not "2e-3")."""
    if value == 0 or step <= 0:
        return 0
    return int(min(3, max(0, np.floor(np.log10(abs(value))) - np.floor(np.log10(step)))))


def scientific(value: float, digits: int = 1) -> str:
    """`value` as "1.5e-3": at most `digits` decimals, no padded exponent."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def style_plot(item: pg.PlotItem, title: str, ylabel: str, left: pg.AxisItem | None = None) -> None:
    """The look every epoch plot shares: title, axis labels, a faint grid, no context menu.
    Axes show plain numbers: pyqtgraph's automatic scale factor ("epoch (x0.001)") is off."""
    item.setAxisItems({"bottom": EpochAxis("bottom"), "left": left or pg.AxisItem("left")})
    for side in ("bottom", "left"):
        item.getAxis(side).enableAutoSIPrefix(False)
    item.setTitle(title, size="11pt")
    item.setLabel("bottom", "epoch")
    item.setLabel("left", ylabel)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)


def _plot(title: str, ylabel: str, legend_at: tuple[int, int] = (-10, 10),
          left: pg.AxisItem | None = None) -> pg.PlotWidget:
    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    style_plot(item, title, ylabel, left)
    legend = item.addLegend(offset=legend_at, labelTextSize="9pt")
    legend.setBrush(pg.mkBrush(255, 255, 255, 210))
    widget.setMinimumHeight(220)
    return widget


class TrainingPlots(QWidget):
    """Loss (training per step, raw and smoothed; validation per epoch), accuracy per epoch,
    and the learning rate per step."""

    MAX_SMOOTHING = 0.9

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Loss", "cross-entropy")
        self.acc_plot = _plot("Accuracy", "accuracy", legend_at=(-10, -10))  # bottom right
        self.lr_plot = _plot("Learning rate", "rate", left=ScientificAxis("left"))
        self.acc_plot.getPlotItem().setYRange(0, 1, padding=0.02)
        loss = self.loss_plot.getPlotItem()
        acc = self.acc_plot.getPlotItem()
        pen = pg.mkPen
        self.step_raw = Series(loss.plot(pen=pen(TRAIN + "40", width=1)))
        self.step_smooth = Series(loss.plot(pen=pen(TRAIN, width=2), name="training (smoothed)"))
        self.val_loss = Series(loss.plot(pen=pen(VAL, width=2), symbol="o", symbolSize=6,
                                         symbolBrush=VAL, name="validation"))
        self.train_acc = Series(acc.plot(pen=pen(TRAIN, width=2), symbol="o", symbolSize=6,
                                         symbolBrush=TRAIN, name="training"))
        self.val_acc = Series(acc.plot(pen=pen(VAL, width=2), symbol="o", symbolSize=6,
                                       symbolBrush=VAL, name="validation"))
        # domain adaptation with a labelled target folder: accuracy on the target domain
        # (in the legend only once it has points)
        self.target_acc = Series(acc.plot(pen=pen(TARGET, width=2, style=Qt.PenStyle.DashLine),
                                          symbol="t", symbolSize=7, symbolBrush=TARGET))
        self.lr = Series(self.lr_plot.getPlotItem().plot(pen=pen(LR, width=2)))
        self.lr_plot.getPlotItem().legend.setVisible(False)
        self.task_acc: dict[str, Series] = {}  # several tasks: one validation curve per task
        self._ema = 0.0
        self._weight = 0.0
        self._smoothing = self.MAX_SMOOTHING
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._wide: bool | None = None
        self._arrange(wide=True)

    WIDE = 900  # narrower than this, the learning rate goes below loss and accuracy

    def _arrange(self, wide: bool) -> None:
        """Three plots in a row when there is room; else loss and accuracy side by side with
        the learning rate below them, so no plot is squeezed until its labels are cut off."""
        if wide == self._wide:
            return
        self._wide = wide
        grid = self._layout
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            grid.removeWidget(plot)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.acc_plot, 0, 1)
        if wide:
            grid.addWidget(self.lr_plot, 0, 2)
        else:
            grid.addWidget(self.lr_plot, 1, 0, 1, 2)
        for column, stretch in enumerate((5, 4, 3) if wide else (1, 1, 0)):
            grid.setColumnStretch(column, stretch)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 0 if wide else 2)
        for plot, height in zip((self.loss_plot, self.acc_plot, self.lr_plot),
                                (220, 220, 220) if wide else (170, 170, 130), strict=True):
            plot.setMinimumHeight(height)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(event.size().width() >= self.WIDE)
        super().resizeEvent(event)

    @property
    def series(self) -> list[Series]:
        return [self.step_raw, self.step_smooth, self.val_loss, self.train_acc, self.val_acc,
                self.target_acc, self.lr, *self.task_acc.values()]

    def clear(self) -> None:
        for s in self.series:
            s.clear()
            s.draw()
        self.acc_plot.getPlotItem().legend.removeItem(self.target_acc.curve)
        for series in self.task_acc.values():
            self.acc_plot.getPlotItem().removeItem(series.curve)
        self.task_acc.clear()
        self._ema = self._weight = 0.0

    def set_loss_name(self, name: str) -> None:
        """What the loss axis measures (a multi-label task's is binary cross-entropy)."""
        self.loss_plot.getPlotItem().setLabel("left", name)

    def set_steps_per_epoch(self, steps: int) -> None:
        """Smooth over about half an epoch, so short epochs are not smeared across several."""
        self._smoothing = min(self.MAX_SMOOTHING, 1.0 - 2.0 / (steps + 2))

    def add_steps(self, xs: list[float], losses: list[float], lrs: list[float]) -> None:
        smooth = []
        s = self._smoothing
        for loss in losses:  # exponential moving average, corrected for its zero start
            self._ema = s * self._ema + (1 - s) * loss
            self._weight = s * self._weight + (1 - s)
            smooth.append(self._ema / self._weight)
        self.step_raw.extend(xs, losses)
        self.step_smooth.extend(xs, smooth)
        self.lr.extend(xs, lrs)

    def replay(self, run_dir: str) -> None:
        """Draw the epochs and steps a run folder has recorded."""
        for row in run_info(run_dir).history:
            self.add_epoch(row["epoch"], row["train_acc"], row["val_loss"], row["val_acc"],
                           row.get("target_acc"), row.get("task_acc"))
        for epoch in read_steps(run_dir):
            per = max(epoch["steps_per_epoch"], 1)
            xs = [epoch["epoch"] - 1 + b / per for b in epoch["batch"]]
            self.add_steps(xs, epoch["loss"], epoch["lr"])

    def add_epoch(self, epoch: float, train_acc: float, val_loss: float | None,
                  val_acc: float | None, target_acc: float | None = None,
                  tasks: dict[str, float] | None = None) -> None:
        """One epoch's points; `tasks`: each task's validation accuracy, a dotted curve per
        task beside the validation curve (their mean)."""
        for name, acc in (tasks or {}).items():
            if name not in self.task_acc:
                colour = TASK_COLOURS[len(self.task_acc) % len(TASK_COLOURS)]
                self.task_acc[name] = Series(self.acc_plot.getPlotItem().plot(
                    pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DotLine), symbol="s",
                    symbolSize=5, symbolBrush=colour, name=f"validation: {name}"))
            self.task_acc[name].extend([epoch], [acc])
        self.train_acc.extend([epoch], [train_acc])
        if val_loss is not None and val_acc is not None:
            self.val_loss.extend([epoch], [val_loss])
            self.val_acc.extend([epoch], [val_acc])
        if target_acc is not None:
            self.add_target(epoch, target_acc)

    def add_target(self, epoch: float, target_acc: float) -> None:
        """A point of the dashed target-domain curve (an adapted model's ends it)."""
        if not self.target_acc.n:
            self.acc_plot.getPlotItem().legend.addItem(self.target_acc.curve, "target domain")
        self.target_acc.extend([epoch], [target_acc])

    def redraw(self) -> None:
        for s in self.series:
            s.draw()
