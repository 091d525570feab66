"""The learning-rate finder dialog: the curve grows as points arrive, on a log axis of rates;
Stop keeps the partial sweep, says so whatever arrives late, and offers its suggestion."""

from __future__ import annotations

import math
import threading
import time

import pytest
from PySide6.QtCore import Qt

from gui_helpers import wait_until
from transfer_gui.core.config import DataConfig, RunConfig
from transfer_gui.core.events import Progress, SweepProgress, Work
from transfer_gui.core.train.lrfind.curve import curve_result
from transfer_gui.ui import worker
from transfer_gui.ui.pages import lr_dialog
from transfer_gui.ui.pages.lr_dialog import LRFinderDialog
from transfer_gui.ui.widgets.notices import dialogs

pytestmark = pytest.mark.gui

SHOWN = 15  # points the sweep sends before Stop


def point(i: int) -> tuple[float, float]:
    """A range test's curve: flat, then falling from the 6th step on."""
    return 1e-5 * 1.3 ** i, 2.3 - 0.12 * max(0, i - 5)


class FakeSweep:
    """Stands in for the engine's sweep in the worker thread: sends `SHOWN` points, waits for
    Stop, then sends one more point (late, as a step that was under way would), and returns
    the partial result, as `lr_find` does when stopped."""

    def __init__(self) -> None:
        self.shown = SHOWN
        self.sent_late = threading.Event()

    def __call__(self, config, steps, scan, callbacks, cancel):
        task = Work(callbacks, cancel)
        for i in range(self.shown):
            time.sleep(0.11)  # the window's batches of events go out every 0.1 s
            lr, loss = point(i)
            task.emit(SweepProgress("lr-find", i + 1, steps, lr, loss))
        deadline = time.monotonic() + 30
        while not cancel.cancelled and time.monotonic() < deadline:
            time.sleep(0.01)
        lr, loss = point(self.shown)
        task.emit(SweepProgress("lr-find", self.shown + 1, steps, lr, loss))
        task.emit(Progress("lr-find", self.shown + 1, steps))
        self.sent_late.set()
        points = [point(i) for i in range(self.shown)]
        return curve_result([p[0] for p in points], [p[1] for p in points], stopped=True)


@pytest.fixture()
def dialog(qtbot, monkeypatch):
    sweep = FakeSweep()
    monkeypatch.setattr(lr_dialog, "_find", sweep)
    worker.accept_jobs(True)  # a window closed by an earlier test stops new tasks
    dlg = LRFinderDialog()
    qtbot.addWidget(dlg)
    dlg.sweep = sweep
    dlg.show()
    yield dlg
    dlg.stop()
    if dlg.task is not None:
        dlg.task.wait()


def test_the_rate_axis_spans_the_sweep_in_decades_before_any_point(dialog):
    dialog.start(RunConfig(DataConfig(root=".")), None)
    item = dialog.plot.getPlotItem()
    axis = item.getAxis("bottom")
    assert axis.logMode and dialog.plot.points == 0
    low, high = item.viewRange()[0]  # log10 of the rate
    assert low < math.log10(1e-5) < math.log10(1.0) < high and high - low < 5.5
    assert axis.tickStrings([-5.0, -4.0, -1.0, 0.0], 1.0, 1.0) == ["1e-5", "1e-4", "1e-1", "1"]
    assert axis.tickStrings([math.log10(3e-4)], 1.0, 0.1) == [""]  # no label between decades
    dialog.stop()


def test_stop_keeps_the_points_and_a_late_point_does_not_overwrite_it(qtbot, dialog):
    rates: list[float] = []
    dialog.rate_chosen.connect(rates.append)
    dialog.start(RunConfig(DataConfig(root=".")), None)
    wait_until(qtbot, lambda: dialog.plot.points >= SHOWN, timeout=30)  # drawn live
    x, y = dialog.plot.raw.getData()
    assert len(x) == SHOWN
    assert list(y) == [point(i)[1] for i in range(SHOWN)]
    assert "Sweeping the learning rate: 15 /" in dialog.status.text()
    assert not dialog.use_button.isEnabled()

    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    assert dialog.status.text() == "Stopping…"
    wait_until(qtbot, lambda: not dialog.running, timeout=30)
    assert dialog.sweep.sent_late.is_set() and not dialogs.SHOWN, dialogs.SHOWN
    assert dialog.status.text().startswith("Stopped after 15 steps."), dialog.status.text()
    assert "Suggested learning rate" in dialog.status.text()
    assert dialog.plot.points == SHOWN and dialog.plot.line.isVisible()
    assert dialog.suggestion is not None and dialog.use_button.isEnabled()
    assert dialog.run_button.isEnabled() and not dialog.stop_button.isEnabled()
    bar = dialog.progress  # how far the sweep went, not 100 %
    assert bar.value() == SHOWN and bar.maximum() == dialog.steps.value() > SHOWN
    qtbot.mouseClick(dialog.use_button, Qt.MouseButton.LeftButton)
    assert rates == [dialog.suggestion]


def test_a_sweep_stopped_too_soon_says_its_points_are_too_few(qtbot, dialog):
    dialog.sweep.shown = 4
    dialog.start(RunConfig(DataConfig(root=".")), None)
    wait_until(qtbot, lambda: dialog.plot.points >= 4, timeout=30)
    qtbot.mouseClick(dialog.stop_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: not dialog.running, timeout=30)
    text = dialog.status.text()
    assert text.startswith("Stopped after 4 steps.") and "too few points" in text
    assert dialog.suggestion is None and not dialog.use_button.isEnabled()
