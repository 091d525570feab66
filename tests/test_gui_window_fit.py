"""On a 1024 x 680 screen the window (even with a geometry saved on a larger screen) and Know
your data open within the screen; the Train log follows new lines unless the user scrolled
up, also after the page was hidden."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QByteArray, QRect, QSettings
from PySide6.QtWidgets import QAbstractSlider

from transfer_gui.ui import screen

pytestmark = pytest.mark.gui
SMALL = QRect(0, 0, 1024, 680)


def test_window_and_lens_open_within_a_small_screen(qtbot, tmp_path, monkeypatch):
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    monkeypatch.setenv("TRANSFER_GUI_DATA_DIR", str(tmp_path / "home"))
    create_app([])
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    big = MainWindow(settings)  # saved on a 1280 x 800 (or larger) screen
    qtbot.addWidget(big)
    big.setGeometry(40, 60, 1280, 800)
    big._save_geometry()
    saved = settings.value("window/geometry")
    assert isinstance(saved, QByteArray)
    big.close()
    monkeypatch.setattr(screen, "available_area", lambda _w: QRect(SMALL))
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert window.width() <= 1024 - screen.FRAME[0] and window.height() <= 680 - screen.FRAME[1]
    assert window.x() + window.width() <= 1024 and window.y() + window.height() <= 680
    know_your_data = window.show_know_your_data()
    assert know_your_data.width() <= 1024 and know_your_data.height() <= 680
    window.state.set_modified(False)
    window.close()


def test_the_train_log_follows_new_lines_unless_scrolled_up(qtbot, window):
    window.show_step(2)
    log = window.train_page.log
    bar = log.verticalScrollBar()
    for i in range(200):
        log.appendPlainText(f"epoch line {i}")
    qtbot.wait(20)
    assert bar.value() == bar.maximum() > 0
    window.show_step(0)  # the page hidden while lines arrive
    for i in range(200):
        log.appendPlainText(f"while away {i}")
    qtbot.wait(20)
    window.show_step(2)
    qtbot.wait(20)
    for i in range(5):
        log.appendPlainText(f"back {i}")
    qtbot.wait(20)
    assert bar.value() == bar.maximum()  # still following
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)  # the user scrolls up
    qtbot.wait(20)
    kept = bar.value()
    assert kept < bar.maximum()
    for i in range(5):
        log.appendPlainText(f"more {i}")
    assert bar.value() == kept  # left where the user is reading
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)
    qtbot.wait(20)
    log.appendPlainText("last")
    assert bar.value() == bar.maximum()
