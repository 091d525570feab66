"""The mouse wheel over the Train form scrolls the page; it changes a box's value only while
that box is being edited."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.gui


def _wheel(widget, clicks: int = -3) -> bool:
    """Turn the wheel over `widget`; whether it took the event (else its parents get it)."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * clicks), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_the_wheel_scrolls_the_form_instead_of_changing_values(qtbot, window):
    window.resize(1024, 600)
    window.show_step(2)
    page = window.train_page
    qtbot.wait(50)
    fields = page.form.fields
    decay = fields["weight_decay"].widget
    before = decay.value()
    choice = next(f.widget for f in fields.values() if hasattr(f.widget, "currentIndex"))
    chosen = choice.currentIndex()
    assert page._scroll.verticalScrollBar().maximum() > 0  # the form scrolls at this size
    _wheel(decay)
    _wheel(choice)
    assert decay.value() == before and choice.currentIndex() == chosen
    decay.setFocus()  # being edited: the wheel is for it
    qtbot.waitUntil(decay.hasFocus)
    _wheel(decay, 1)
    assert decay.value() != before


def test_an_emptied_box_left_with_tab_shows_its_value_and_no_error(qtbot, window):
    window.show_step(2)
    page = window.train_page
    box = page.form.fields["epochs"].widget
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    box.lineEdit().selectAll()
    qtbot.keyClick(box.lineEdit(), Qt.Key.Key_Backspace)
    assert "Epochs is empty" in page.status.text()
    qtbot.keyClick(box, Qt.Key.Key_Tab)  # Qt puts the last value back
    assert box.text() and page.form.problem() is None
    assert "Epochs is empty" not in page.status.text() and page.start_button.isEnabled()
