"""A timm model in the window: its layer groups in the tree, "Fine-tune top" saying what it
trains, and a run to the end (random weights, as if they were on this computer)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from PySide6.QtCore import Qt

from gui_helpers import open_data, set_form, start_and_wait, wait_until
from transfer_gui.core.io import bundle
from transfer_gui.core.models import backbones

pytestmark = pytest.mark.gui
NAME = "timm/test_resnet"


def test_a_timm_model_is_grouped_and_trains_in_the_window(qtbot, request, shapes_dir,
                                                         monkeypatch, tmp_path):
    spec = backbones.get_spec(NAME)
    weights = tmp_path / "test_resnet.pth"
    torch.manual_seed(0)
    torch.save(spec.builder().state_dict(), weights)
    local = dataclasses.replace(spec, bundled=lambda: str(weights), hidden=True)
    monkeypatch.setitem(backbones._REGISTRY, NAME, local)  # its weights: on this computer
    window = request.getfixturevalue("tiny_window")  # hidden backbones listed
    open_data(qtbot, window, shapes_dir, monkeypatch)
    window.show_step(1)
    page = window.model_page
    page.select_backbone(NAME)
    wait_until(qtbot, lambda: page.structure is not None and page.structure.backbone == NAME
               and page.tree.isEnabled(), timeout=60)
    assert [g.name for g in page.structure.layers] == ["stem", "stage1", "stage2", "stage3",
                                                        "stage4", "head"]
    assert page.unfreeze.value() == page.unfreeze.minimum()  # auto
    qtbot.mouseClick(page.preset_buttons["fine-tune"], Qt.MouseButton.LeftButton)
    words = page.summary.text().replace("\u00a0", " ")
    assert "top half of the network's 5 layer groups: stages 2-4" in words
    assert window.state.config.model.trainable == ("stage2", "stage3", "stage4", "head")
    set_form(window, epochs=1, image_size=64, batch_size=8)
    form = window.train_page.form
    form.probe_first.setCurrentIndex(form.probe_first.findData(False))
    window.show_step(2)
    run, status = start_and_wait(qtbot, window, timeout=240)
    assert status == "completed", status
    meta = bundle.read_meta(run)
    assert meta["backbone"] == NAME and meta["trainable"] == ["stage2", "stage3", "stage4",
                                                              "head"]
