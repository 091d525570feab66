"""The Train page's forms are made from the settings' declarations: every setting has its
field, and a value typed wrong is shown at its field and blocks Start; nothing is quietly
replaced by a default."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from transfer_gui.core import ConfigError, TrainConfig, TransferConfig, options_of

pytestmark = pytest.mark.gui

# settings the Train form leaves to the command line, on purpose
NOT_ON_THE_FORM = {"num_workers", "cache_features"}


@pytest.fixture()
def page(qtbot, monkeypatch):
    from transfer_gui.ui.pages import train_page
    from transfer_gui.ui.state import AppState

    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(train_page, "show_error", lambda _p, title, text, *a: shown.append(
        (title, text)))
    widget = train_page.TrainPage(AppState())
    widget.shown = shown
    qtbot.addWidget(widget)
    return widget


def test_the_forms_cover_every_setting(qtbot):
    from transfer_gui.ui.pages.train_form import TrainForm
    from transfer_gui.ui.pages.transfer_form import TransferForm

    train, transfer = TrainForm(), TransferForm()
    qtbot.addWidget(train)
    qtbot.addWidget(transfer)
    covered = set(train.fields) | {f.option.off for f in train.fields.values() if f.option.off}
    for opt in options_of(TrainConfig):
        assert opt.name in covered or (not opt.form and opt.name in NOT_ON_THE_FORM), opt.name
        if opt.name in train.fields:
            field = train.fields[opt.name]
            assert field.widget.toolTip() == opt.help and opt.label, opt.name
    assert set(transfer.fields) == {o.name for o in options_of(TransferConfig)}
    assert train.batch_size.minimum() == 1 and train.epochs.specialValueText().startswith("auto")


def test_an_invalid_value_is_shown_at_its_field_and_blocks_start(qtbot, page):
    form = page.form
    form.epochs.setValue(7)
    form.batch_size.setValue(16)
    assert page.start_button.isEnabled()
    message = form.fields["lr"].message

    form.lr.clear()
    qtbot.keyClicks(form.lr, "-0.5")
    assert not message.isHidden() and "Learning rate" in message.text()
    assert form.lr.property("invalid")
    assert not page.start_button.isEnabled()
    assert "Learning rate" in page.start_button.toolTip()
    with pytest.raises(ConfigError) as info:
        form.config()  # no recipe of defaults instead
    assert info.value.field == "lr"
    assert page.state.config.train.epochs == 7  # the last valid recipe is kept meanwhile
    assert page.state.config.train.batch_size == 16
    page.start()
    assert page.shown and page.shown[-1][0] == "Cannot start training"

    form.lr.clear()
    qtbot.keyClicks(form.lr, "0.01")
    assert message.isHidden() and not form.lr.property("invalid")
    assert page.start_button.isEnabled() and not page.start_button.toolTip()
    train = form.config()
    assert (train.epochs, train.batch_size, train.lr) == (7, 16, 0.01)
    assert page.state.config.train == train


def test_a_number_typed_out_of_range_blocks_start_until_it_is_valid(qtbot, page):
    box = page.form.batch_size
    message = page.form.fields["batch_size"].message
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "0")  # below the minimum: the box keeps its old value
    assert box.value() == 32
    assert "Batch size must be at least 1" in message.text() and not message.isHidden()
    assert not page.start_button.isEnabled()
    assert "batch_size" in page.form.problems()
    qtbot.keyClicks(box.lineEdit(), "8")  # "08"
    assert box.value() == 8 and message.isHidden() and page.start_button.isEnabled()
    assert page.form.config().batch_size == 8


def test_a_weight_typed_wrong_blocks_start(qtbot, page, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    transfer = page.transfer
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(tmp_path))
    transfer.mode.setCurrentIndex(transfer.mode.findData("dann"))
    weight = transfer.adapt_weight
    weight.lineEdit().selectAll()
    qtbot.keyClick(weight.lineEdit(), Qt.Key.Key_Backspace)
    assert not page.start_button.isEnabled()
    assert "Adaptation weight" in transfer.fields["adapt_weight"].message.text()
    qtbot.keyClicks(weight.lineEdit(), "2")
    assert page.start_button.isEnabled()
    assert page.state.config.transfer.adapt_weight == 2.0
