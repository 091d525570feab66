"""The Train page's forms are made from the settings' declarations: every setting has its
field, and a value typed wrong is shown at its field and blocks Start; nothing is quietly
replaced by a default."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from transfer_gui.core import (
    ConfigError,
    DataConfig,
    ModelConfig,
    TrainConfig,
    TransferConfig,
    option_named,
    options_of,
)

pytestmark = pytest.mark.gui

# settings the Train form leaves to the command line, on purpose
# (sync_batchnorm: only a run on several processes, launched by torchrun, reads it)
NOT_ON_THE_FORM = {"num_workers", "cache_features", "sync_batchnorm"}


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
    assert set(transfer.fields) == {o.name for o in options_of(TransferConfig) if o.form}
    assert train.batch_size.minimum() == 1 and train.epochs.specialValueText().startswith("auto")


def test_auto_epochs_say_a_fine_tune_may_take_more(qtbot):
    """A probe-first fine-tune takes more epochs on few images: "auto" says "or more"."""
    from transfer_gui.core.config import resolve_train
    from transfer_gui.ui.pages.train_form import TrainForm

    form = TrainForm()
    qtbot.addWidget(form)
    form.show_defaults(resolve_train(TrainConfig(), "fine-tune"))
    assert form.epochs.specialValueText() == "auto (8 or more)"
    form.show_defaults(resolve_train(TrainConfig(), "linear-probe"))
    assert form.epochs.specialValueText() == "auto (10)"


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


def _box(widget) -> tuple:
    """What a number box offers: its range, its value and its tooltip."""
    return widget.minimum(), widget.maximum(), widget.value(), widget.toolTip()


def test_the_data_split_comes_from_its_declarations(qtbot):
    from transfer_gui.ui.pages.data_page import DataPage
    from transfer_gui.ui.state import AppState

    page = DataPage(AppState())
    qtbot.addWidget(page)
    share, seed = option_named(DataConfig, "val_split"), option_named(DataConfig, "seed")
    assert _box(page.val_share) == (share.min * 100, share.top * 100, share.default * 100,
                                    share.help)
    assert page.val_share.suffix() == share.suffix == " %" and share.scale == 100
    assert page.val_share.singleStep() == share.step * 100
    assert _box(page.seed) == (seed.min, seed.top, seed.default, seed.help)
    form = page.val_share.parentWidget().layout()
    for opt, box in ((share, page.val_share), (seed, page.seed)):
        assert form.labelForField(box).text() == opt.label and opt.label


def test_a_split_typed_wrong_is_shown_at_its_field_and_not_used(qtbot):
    from transfer_gui.ui.pages.data_page import DataPage
    from transfer_gui.ui.state import AppState

    page = DataPage(AppState())
    qtbot.addWidget(page)
    message = page.split_fields["val_split"].message
    page.val_share.lineEdit().selectAll()
    qtbot.keyClick(page.val_share.lineEdit(), Qt.Key.Key_Backspace)
    assert message.text() == "Validation share is empty" and not message.isHidden()
    assert page.val_share.property("invalid")
    assert page.state.config.data.val_split == 0.2  # the last valid split is kept
    qtbot.keyClicks(page.val_share.lineEdit(), "30")
    assert message.isHidden() and page.state.config.data.val_split == 0.3
    page.seed.setValue(7)
    assert page.state.config.data.seed == 7


def test_compare_epochs_and_unfreeze_come_from_their_declarations(qtbot):
    from transfer_gui.ui.pages.strategies_dialog import COMPARE_EPOCHS, StrategiesDialog
    from transfer_gui.ui.widgets.inputs.preset_bar import PresetBar

    dialog, bar = StrategiesDialog(), PresetBar()
    qtbot.addWidget(dialog)
    qtbot.addWidget(bar)
    epochs = option_named(TrainConfig, "epochs")
    low, high, value, tip = _box(dialog.epochs)
    assert (low, high, value) == (epochs.min, epochs.top, COMPARE_EPOCHS)
    assert tip.startswith("How many passes") and not dialog.epochs.specialValueText()
    unfreeze = option_named(ModelConfig, "unfreeze")
    auto = unfreeze.bottom - 1  # the lowest position: None, the top half of the groups
    assert unfreeze.default is None and bar.unfreeze.specialValueText() == unfreeze.special
    assert _box(bar.unfreeze) == (auto, unfreeze.top, auto, unfreeze.help)
    assert bar.unfreeze_value() is None
    assert bar.unfreeze.suffix() == unfreeze.suffix

    dialog.epochs.lineEdit().selectAll()
    qtbot.keyClick(dialog.epochs.lineEdit(), Qt.Key.Key_Backspace)
    assert "Epochs is empty" in dialog.epochs_field.message.text()
    assert not dialog.run_button.isEnabled()
    qtbot.keyClicks(dialog.epochs.lineEdit(), "3")
    assert dialog.run_button.isEnabled() and dialog.epochs.value() == 3
