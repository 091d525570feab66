"""The window shows the engine's run-folder errors as they are: a refusal before the start, and
a failed save that names the model really kept."""

from __future__ import annotations

import errno
from collections import namedtuple

import pytest
from PySide6.QtCore import Qt

from gui_helpers import open_data, set_form, wait_for_tree
from transfer_gui.core.io import bundle, diskspace
from transfer_gui.ui.widgets.notices import dialogs

pytestmark = pytest.mark.gui
Usage = namedtuple("Usage", "total used free")


def run_until_failed(qtbot, window, shapes_dir, monkeypatch, epochs: int) -> tuple[str, str]:
    open_data(qtbot, window, shapes_dir, monkeypatch)
    window.show_step(1)
    wait_for_tree(qtbot, window)
    set_form(window, epochs=epochs)
    page = window.train_page
    with qtbot.waitSignal(page.run_failed, timeout=120_000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.start_button.isEnabled(), timeout=10_000)
    assert len(dialogs.SHOWN) == 1, dialogs.SHOWN
    return dialogs.SHOWN[0]


def test_too_little_space_is_a_refusal_not_a_failure(qtbot, window, shapes_dir, monkeypatch):
    monkeypatch.setattr(diskspace.shutil, "disk_usage", lambda _: Usage(10**9, 10**9, 5_000))
    title, message = run_until_failed(qtbot, window, shapes_dir, monkeypatch, 1)
    assert title == "Cannot start training"
    assert message.startswith("not enough free space: this run needs about ")
    assert message.endswith("has 5.0 kB free; free some space or choose a folder on another disk")
    assert window.state.run_dir != window.train_page.run_dir  # nothing to open


def test_a_failed_save_names_the_model_really_kept(qtbot, window, shapes_dir, monkeypatch):
    real, calls = bundle.save_checkpoint, []

    def full_from_epoch_2(*args, **kwargs):
        calls.append(1)
        if len(calls) >= 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(bundle, "save_checkpoint", full_from_epoch_2)
    title, message = run_until_failed(qtbot, window, shapes_dir, monkeypatch, 3)
    run = window.train_page.run_dir
    meta = bundle.read_meta(run)
    assert title == "Training failed" and meta["best"]["epoch"] == 1
    assert "epoch 2 (val acc " in message and "was not saved: no space left on the device" \
        in message
    assert message.endswith(f"the last good model is {run}/model.safetensors (epoch 1, val acc "
                            f"{meta['best']['val_acc']:.1%})")  # nothing added by the window
    assert window.state.run_dir == run  # the kept model can be evaluated at once
