"""The camera view on a generated source (the same path as a camera's frames): live view, a
held Record button saves frames into its class and labels them, Play shows top-k bars and
counts the frames a busy model dropped; no camera is a message, not a crash."""

from __future__ import annotations

import time

import pytest

from transfer_gui.core import LabelPool

pytestmark = pytest.mark.gui


@pytest.fixture()
def dialog(qtbot, tmp_path):
    from transfer_gui.core import PatternSource, pattern_predictor
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.pages.camera_dialog import PATTERN, CameraDialog

    create_app([])
    pool = LabelPool.open(tmp_path)
    pool.add_class("red")
    pool.add_class("blue")

    def slow(image):
        time.sleep(0.05)  # slower than the 30 frames/s source: frames must be dropped
        return pattern_predictor(image)

    widget = CameraDialog(pool, slow, sources={PATTERN: PatternSource})
    qtbot.addWidget(widget)
    widget.show()
    yield widget
    widget.close()


def test_record_a_burst_and_play(dialog, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    dialog.start()
    qtbot.waitUntil(lambda: not dialog.view.pixmap().isNull(), timeout=5000)
    record = dialog.findChildren(type(dialog.play))[1]  # "● Record red"
    assert record.text() == "● Record red"
    with qtbot.waitSignal(dialog.recorded, timeout=5000) as burst:
        qtbot.mousePress(record, Qt.MouseButton.LeftButton)
        qtbot.wait(700)  # held for 0.7 s at 5 frames a second
        qtbot.mouseRelease(record, Qt.MouseButton.LeftButton)
    files = burst.args[0]
    assert 2 <= len(files) <= 5 and all((tmp_path / f).is_file() for f in files)
    assert LabelPool.open(tmp_path).labels == dict.fromkeys(files, "red")
    dialog.play.setChecked(True)
    qtbot.waitUntil(lambda: "dropped" in dialog.info.text(), timeout=5000)
    qtbot.wait(500)
    assert dialog.bars[0].format().split()[0] in {"red", "blue"}
    assert dialog.session.mailbox.dropped > 0
    dialog.play.setChecked(False)


def test_no_camera_is_a_message(qtbot, tmp_path):
    from transfer_gui.core import CameraError
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.pages.camera_dialog import CameraDialog

    create_app([])

    def refused():
        raise CameraError("camera 0 cannot be opened: access refused")

    widget = CameraDialog(LabelPool.open(tmp_path), None, sources={"Camera 0": refused})
    qtbot.addWidget(widget)
    widget.start()
    assert "cannot be opened" in widget.view.text() and not widget.play.isEnabled()
    widget.close()


def test_without_any_camera_the_view_says_so(qtbot, tmp_path, monkeypatch):
    from transfer_gui.core import CameraError
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.pages import camera_dialog

    create_app([])

    def missing():
        raise CameraError("the camera needs OpenCV, which is not installed")

    monkeypatch.setattr(camera_dialog, "list_cameras", missing)
    widget = camera_dialog.CameraDialog(LabelPool.open(tmp_path), None)
    qtbot.addWidget(widget)
    assert "OpenCV" in widget.view.text()
    assert [widget.camera_box.itemText(i) for i in range(widget.camera_box.count())] == [
        camera_dialog.PATTERN]
    widget.close()
