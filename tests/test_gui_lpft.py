"""The Train page's augmentation preview and the Model page's advice after a probe run
(pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui_helpers import open_data, set_form, start_and_wait, wait_for_tree, wait_until
from transfer_gui.core.io import bundle

pytestmark = pytest.mark.gui


def tile_images(preview) -> list:
    return [tile.pixmap().toImage() for tile in preview.tiles]


def test_augmentation_preview_redraws_when_the_preset_changes(qtbot, window, shapes_dir,
                                                              monkeypatch):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    page = window.train_page
    form, preview = page.form, page.preview
    form.augment.setCurrentIndex(form.augment.findData("none"))
    wait_until(qtbot, lambda: preview.shown is not None and preview.shown.augment == "none")
    plain = tile_images(preview)
    assert len(plain) == 8 and not plain[0].isNull()
    assert all(image == plain[0] for image in plain)  # no augmentation: one centre crop
    assert "no augmentation" in preview.caption.text()
    form.augment.setCurrentIndex(form.augment.findData("standard"))
    wait_until(qtbot, lambda: preview.shown is not None and preview.shown.augment == "standard")
    varied = tile_images(preview)
    assert sum(image != varied[0] for image in varied[1:]) >= 6  # random crops differ
    assert "standard" in preview.caption.text()


def test_model_page_reports_the_probe_and_suggests_fine_tuning(qtbot, window, shapes_dir,
                                                               monkeypatch):
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    advice = window.model_page.advice
    assert not advice.isVisibleTo(window.model_page)
    qtbot.mouseClick(window.model_page.preset_buttons["linear-probe"],
                     Qt.MouseButton.LeftButton)
    set_form(window, epochs=1, image_size=32, batch_size=8)  # one epoch: far from perfect
    run, status = start_and_wait(qtbot, window)
    assert status == "completed"
    wait_until(qtbot, lambda: advice.isVisibleTo(window.model_page))
    text = advice.text()
    meta = bundle.read_meta(run)  # the advice speaks of this run's own figures
    val = meta["best"]["val_acc"]
    train = next(r["train_acc"] for r in meta["history"] if r["epoch"] == meta["best"]["epoch"])
    assert f"reached {val:.1%} validation accuracy ({train:.1%} on its training images)" in text
    done = val >= 0.97 and train - val < 0.08  # the probe leaves little room
    assert ("little to gain" in text) is done, text
    assert ("“Fine-tune top”" in text) is not done, text


def test_a_probe_that_cannot_be_beaten_ends_the_run_in_the_window(qtbot, window, shapes_dir,
                                                                  monkeypatch):
    """The easy shapes: the probe gets every validation image right, so a fine-tune ends
    after it, and the Train page's status and log say why."""
    open_data(qtbot, window, shapes_dir, monkeypatch)
    wait_for_tree(qtbot, window)
    qtbot.mouseClick(window.model_page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    set_form(window, epochs=5)
    _run, status = start_and_wait(qtbot, window)
    page = window.train_page
    assert status == "early-stopped"
    assert "after 1 epoch" in page.status.text()
    assert "Fine-tuning skipped" in page.status.text() and "4 fine-tuning epochs not run" in \
        page.status.text()
    assert "info: fine-tuning skipped" in page.log.toPlainText()
    assert page.plots.val_acc.n == 1
