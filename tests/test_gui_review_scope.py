"""The Data page keeps Know your data's decisions with the folder they were made on: another
folder opened after it starts with none, and going back brings them back."""

from __future__ import annotations

import pytest

from gui_helpers import open_data
from imagegen import make_dataset


@pytest.mark.gui
def test_decisions_stay_with_their_folder(qtbot, window, tmp_path, monkeypatch):
    a = make_dataset(tmp_path / "a", per_class=6, size=32)
    b = make_dataset(tmp_path / "b", per_class=6, size=32, seed=1)  # the same file names
    page, state = window.data_page, window.state
    open_data(qtbot, window, a, monkeypatch)
    know_your_data = window.show_know_your_data()
    know_your_data.mark("circle/circle_000.png", "exclude")  # as the review list's menu does
    know_your_data.mark("square/square_001.png", "triangle")
    assert state.config.data.exclude == ("circle/circle_000.png",)
    page._update_summary()
    assert "review: 1 left out, 1 relabelled" in page.summary.text()

    open_data(qtbot, window, b, monkeypatch)
    data = state.config.data
    assert data.root == str(b) and data.exclude == () and data.relabel == ()
    assert "review" not in page.summary.text()
    assert "15 training · 3 validation images" in page.summary.text()  # all 18 of b
    assert state.config.to_dict()["data"]["exclude"] == []  # a run's configuration

    open_data(qtbot, window, a, monkeypatch)
    data = state.config.data
    assert data.exclude == ("circle/circle_000.png",)
    assert data.relabel == ("square/square_001.png=triangle",)
    assert "review: 1 left out, 1 relabelled" in page.summary.text()
    know_your_data.close()
