"""Know your data's threshold control: a lower cosine cut lists pairs the default misses,
from the features already computed (no new inspection)."""

from __future__ import annotations

import numpy as np
import pytest

from transfer_gui.core.analysis.know_your_data import DataFeatures, inspect, with_threshold
from transfer_gui.core.analysis.neardups import THRESHOLD
from transfer_gui.core.data.scan import Sample

pytestmark = pytest.mark.gui


def _features(tmp_path) -> DataFeatures:
    """Twelve images: 0 and 1 nearly the same (cosine about 0.97), 2 and 3 alike (about 0.85:
    a copy shrunk hard), the rest unrelated."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (12, 64))
    x[1] = x[0] + rng.normal(0, 0.25, 64)
    x[3] = x[2] + rng.normal(0, 0.65, 64)
    samples = [Sample(str(tmp_path / "a" / f"{i}.png"), i % 2) for i in range(12)]
    return DataFeatures(str(tmp_path), ["a", "b"], samples, ["train"] * 12,
                        x.astype(np.float32), "tiny_cnn")


def test_with_threshold_lists_the_pairs_of_a_new_cut(tmp_path):
    result = inspect(_features(tmp_path))
    assert [(p.first, p.second) for p in result.duplicates] == [(0, 1)]
    lower = with_threshold(result, 0.7)
    assert [(p.first, p.second) for p in lower.duplicates] == [(0, 1), (2, 3)]
    assert lower.threshold == 0.7 and result.threshold == THRESHOLD


def test_the_window_threshold_control(qtbot, tmp_path):
    from transfer_gui.ui.know_your_data.data_window import KnowYourDataWindow
    from transfer_gui.ui.state import AppState

    know_your_data = KnowYourDataWindow(AppState())
    qtbot.addWidget(know_your_data)
    know_your_data.show_result(inspect(_features(tmp_path)))
    control = know_your_data.duplicate_tab.threshold
    assert control.value() == pytest.approx(THRESHOLD)
    assert know_your_data.duplicates.rowCount() == 1 and know_your_data.tabs.tabText(2) == "Duplicates (1)"
    control.setValue(0.7)
    assert know_your_data.duplicates.rowCount() == 2 and know_your_data.tabs.tabText(2) == "Duplicates (2)"
    assert know_your_data.result is not None and know_your_data.result.threshold == pytest.approx(0.7)
