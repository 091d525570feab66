"""Helpers for driving the window in tests."""

from __future__ import annotations

import time

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QWidget


def wait_until(qtbot, condition, timeout: float = 60.0) -> None:
    qtbot.waitUntil(condition, timeout=int(timeout * 1000))


def open_data(qtbot, window, folder, monkeypatch) -> None:
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        qtbot.mouseClick(window.data_page.choose_button, Qt.MouseButton.LeftButton)


def wait_for_tree(qtbot, window) -> None:
    page = window.model_page
    wait_until(qtbot, lambda: page.structure is not None and page.tree.isEnabled())


def tree_built(window, classes: int = 3) -> bool:
    page = window.model_page
    structure = page.structure
    return (structure is not None and page.tree.isEnabled() and structure.backbone == "tiny_cnn"
            and structure.num_classes == classes)


def use_tiny(qtbot, window, classes: int = 3) -> None:
    window.model_page.select_backbone("tiny_cnn")
    wait_until(qtbot, lambda: tree_built(window, classes), timeout=30)


def set_form(window, epochs: int, image_size: int = 64, batch_size: int = 16) -> None:
    form = window.train_page.form
    form.epochs.setValue(epochs)
    form.image_size.setValue(image_size)
    form.batch_size.setValue(batch_size)


def start_and_wait(qtbot, window, timeout: float = 180) -> tuple[str, str]:
    page = window.train_page
    with qtbot.waitSignal(page.run_finished, timeout=int(timeout * 1000)) as blocker:
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    return tuple(blocker.args)  # type: ignore[return-value]


def drop_files(widget: QWidget, paths: list[str]) -> None:
    """Drag these files onto `widget` and drop them, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier)
    # Qt's own signatures: the drag events take a QPoint, the drop a QPointF
    for kind, at in ((QDragEnterEvent, QPoint(10, 10)), (QDragMoveEvent, QPoint(10, 10)),
                     (QDropEvent, QPointF(10, 10))):
        event = kind(at, *args)
        assert QApplication.sendEvent(widget, event), f"{kind.__name__} was not delivered"


class GapMeter:
    """Measures the longest pause of the GUI thread's event loop with a fast timer."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.worst = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last)
        self._last = now
        self.ticks += 1

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
