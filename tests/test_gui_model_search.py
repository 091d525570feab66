"""The Model page's search box narrows the list and selects nothing: the project's backbone
changes only when the user picks a row; after a network fails to build, picking one that
builds shows its tree."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui_helpers import tree_built, use_tiny, wait_until

pytestmark = pytest.mark.gui


def test_typing_a_search_keeps_the_projects_backbone(qtbot, window):
    window.show_step(1)
    page = window.model_page
    picker = page.picker
    wait_until(qtbot, lambda: page.structure is not None, timeout=60)
    before = window.state.config.model.backbone
    assert picker.current() is not None and picker.current().name == before
    picker.search.setFocus()
    qtbot.keyClicks(picker.search, "resnet")
    qtbot.wait(50)
    assert picker.proxy.rowCount() > 0
    assert window.state.config.model.backbone == before  # nothing chosen by typing
    assert picker.current() is None or picker.current().name == before
    assert page.structure.backbone == before and not page._building
    qtbot.keyClick(picker.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(picker.search, Qt.Key.Key_Backspace)  # the search cleared
    assert window.state.config.model.backbone == before
    assert picker.current() is not None and picker.current().name == before
    # picking a row is a choice
    qtbot.keyClicks(picker.search, "resnet18")
    rect = picker.view.visualRect(picker._index_of("resnet18"))
    assert rect.isValid()
    qtbot.mouseClick(picker.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.state.config.model.backbone == "resnet18"


def test_after_a_failed_build_a_network_that_builds_shows_its_tree(qtbot, tiny_window,
                                                                    monkeypatch):
    from transfer_gui.ui.pages import model_page

    window = tiny_window
    window.show_step(1)
    page = window.model_page
    use_tiny(qtbot, window, classes=2)
    real = model_page.describe_structure

    def fails_for_resnet(backbone, *args):
        if backbone == "resnet18":
            raise RuntimeError("out of memory")
        return real(backbone, *args)

    monkeypatch.setattr(model_page, "describe_structure", fails_for_resnet)
    page.select_backbone("resnet18")
    wait_until(qtbot, lambda: page.summary.text() == "The network could not be built.")
    assert page.structure is None  # no stale tree of the network before
    page.select_backbone("tiny_cnn")
    wait_until(qtbot, lambda: tree_built(window, classes=2), timeout=30)
    assert page.summary.text() != "The network could not be built."
    assert "trainable" in page.summary.text()


def test_weights_for_another_architecture_are_refused_when_loaded(qtbot, tiny_window,
                                                                  tmp_path, monkeypatch):
    import torch
    from PySide6.QtWidgets import QFileDialog

    from transfer_gui.ui.widgets.notices import dialogs

    window = tiny_window
    window.show_step(1)
    page = window.model_page
    use_tiny(qtbot, window, classes=2)
    wrong = tmp_path / "other.pth"
    torch.save({"features.0.weight": torch.zeros(8, 3, 3, 3)}, wrong)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(wrong), ""))
    qtbot.mouseClick(page.load_weights, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: bool(dialogs.SHOWN), timeout=30)
    title, message = dialogs.SHOWN[-1]
    assert title == "Cannot use other.pth"
    assert "was made for another architecture than" in message, message
    assert window.state.config.model.weights_file is None
    assert "other.pth" not in page.weights_label.text()
    # a file that fits (the network's own weights) is taken
    from transfer_gui.core.models.backbones import get_spec
    from transfer_gui.core.models.weights import build_model

    good = tmp_path / "own.pth"
    torch.save(build_model(get_spec("tiny_cnn"), 2, pretrained=False).state_dict(), good)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), ""))
    qtbot.mouseClick(page.load_weights, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: window.state.config.model.weights_file == str(good), timeout=30)
    assert "own.pth" in page.weights_label.text()
