"""The Qt binding itself: faults in it that would crash a long session (pytest-qt, offscreen)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

from transfer_gui.ui import worker

pytestmark = pytest.mark.gui


class _Emitter(QObject):
    ping = Signal(object)


def test_emitting_signals_keeps_reference_counts(qapp):
    """PySide6 6.12.0 returned a borrowed True from Signal.emit: every emit dropped one
    reference to True, and after a few thousand events (Python < 3.12) the interpreter aborted
    with "deallocating True or False". The app emits many thousands in a long run."""
    emitter = _Emitter()
    received = []
    emitter.ping.connect(received.append)
    before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(2000):
        emitter.ping.emit(i)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert len(received) == 2000
    assert after[0] >= before[0] - 10, f"True lost {before[0] - after[0]} references"
    assert after[1] >= before[1] - 10, f"None lost {before[1] - after[1]} references"


@pytest.mark.timeout(120, method="thread")  # a deadlock blocks in C: only a thread can end it
def test_many_short_tasks_while_the_gui_thread_connects(qapp):
    """Worker threads end and their objects are deleted while the GUI thread keeps making
    connections (a QLabel.setText makes one): none of this may deadlock or crash."""
    from PySide6.QtWidgets import QLabel

    worker.accept_jobs(True)  # a window closed by an earlier test stops new tasks
    label = QLabel()
    finished = []
    for i in range(150):
        task = worker.start_job(lambda callbacks, cancel: 1, "short")
        task.succeeded.connect(finished.append)
        for j in range(20):
            label.setText(f"{i}.{j}")
        qapp.processEvents()
    for _ in range(2000):
        if not worker.live_jobs() and len(finished) == 150:
            break
        qapp.processEvents()
        worker.QThread.msleep(5)
    assert not worker.live_jobs()
    assert finished == [1] * 150
