"""Texts that must say what is true now: the Train page's status while a field is invalid,
the highest-loss captions on the Evaluate page (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


@pytest.fixture()
def train(qtbot):
    from transfer_gui.ui.pages import train_page
    from transfer_gui.ui.state import AppState

    widget = train_page.TrainPage(AppState())
    qtbot.addWidget(widget)
    return widget


def test_the_status_says_what_is_wrong_while_start_is_disabled(qtbot, train):
    form, status = train.form, train.status
    ready = status.text()
    assert train.start_button.isEnabled() and "press Start" in ready
    form.lr.clear()
    qtbot.keyClicks(form.lr, "-0.5")
    assert not train.start_button.isEnabled()
    assert "press Start" not in status.text()
    assert status.text().startswith("Start is disabled: Learning rate")
    assert form.fields["lr"].message.text() in status.text()
    # a second invalid field: still the status of a disabled Start
    box = form.batch_size.lineEdit()
    box.selectAll()
    qtbot.keyClicks(box, "0")
    assert status.text().startswith("Start is disabled:")
    qtbot.keyClicks(box, "8")
    form.lr.clear()
    qtbot.keyClicks(form.lr, "0.01")
    assert train.start_button.isEnabled() and status.text() == ready
