"""Start-up: the window is shown with its first page only; the other pages (and pyqtgraph)
are built after the first paint, or at once when something asks for them, and always before
the shared state first changes; torch loads after them."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import QSettings

pytestmark = pytest.mark.gui


def test_the_window_is_shown_before_the_other_pages_and_pyqtgraph():
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from transfer_gui.ui.app import create_app\n"
        "from transfer_gui.ui.main_window import MainWindow\n"
        "app = create_app([]); w = MainWindow(); w.show(); app.processEvents()\n"
        "print(w.isVisible(), 'pyqtgraph' in sys.modules, 'numpy' in sys.modules,\n"
        "      type(w.stack.currentWidget()).__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split()[-4:] == ["True", "False", "False", "DataPage"], out.stderr


@pytest.fixture()
def bare_window(qtbot, tmp_path, monkeypatch):
    """The main window as `transfer-gui` opens it: nothing built beyond the Data page."""
    from PySide6.QtWidgets import QMessageBox

    from transfer_gui.ui import worker
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    monkeypatch.setenv("TRANSFER_GUI_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Discard)
    create_app([])
    win = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    yield win
    win.state.set_modified(False)
    win.close()
    qtbot.waitUntil(lambda: not worker.live_jobs(), timeout=60_000)


def built(window) -> list[str]:
    from transfer_gui.ui.steps import Step

    pages = [window.stack.built(step) for step in Step]
    return [type(page).__name__ for page in pages if page is not None]


def test_after_the_first_paint_every_page_is_built_then_the_engine_loads(qtbot, bare_window):
    window = bare_window
    assert built(window) == ["DataPage"]
    pages_at_engine_start = []
    start = window.start_engine
    window.start_engine = lambda: (pages_at_engine_start.extend(built(window)), start())
    window.first_painted.connect(window.finish_startup)
    with qtbot.waitSignal(window.first_painted, timeout=10_000):
        window.show()
    with qtbot.waitSignal(window.state.engine_ready, timeout=120_000):
        pass
    assert pages_at_engine_start == ["DataPage", "ModelPage", "TrainPage", "EvaluatePage",
                                     "PredictPage", "ComparePage", "LabelPage"]
    assert window.model_page.picker.table_model.rowCount() > 0  # it heard the engine


def test_a_page_asked_for_early_is_built_and_every_page_hears_the_first_change(qtbot,
                                                                              bare_window):
    from transfer_gui.core import TrainConfig

    window = bare_window
    window.show()
    window.show_step(2)  # the sidebar's Train entry before the start-up built it
    assert built(window) == ["DataPage", "TrainPage"]
    assert window.stack.currentWidget() is window.train_page
    window.state.set_train(TrainConfig(epochs=7))  # the first change: every page exists first
    assert len(built(window)) == 7
    assert window.stack.currentWidget() is window.train_page
    window.show_step(3)
    assert type(window.stack.currentWidget()).__name__ == "EvaluatePage"
