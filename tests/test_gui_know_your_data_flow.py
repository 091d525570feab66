"""Know your data, driven as a user would: the map appears before the label check ends, Stop
stops, a lasso exclusion is one change of the project, the review list follows its Confidence
column, an exact copy is listed once, a dot that cannot be opened says why, and another folder
clears what was shown of the previous one."""

from __future__ import annotations

import dataclasses
import shutil
import threading

import numpy as np
import pytest
from know_your_data_images import flipped_dataset
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QComboBox

from gui_helpers import open_data, wait_until
from transfer_gui.core import issue_rows

pytestmark = pytest.mark.gui


@pytest.fixture()
def folders(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    flipped_dataset(first, per_class=12)  # 48 images, a few flipped
    copy = next(iter(sorted((first / "circle").glob("*.png"))))
    shutil.copy(copy, first / "circle" / "copy_of_it.png")  # one exact copy: one pair
    flipped_dataset(second, per_class=8, seed=3)
    return first, second


def _lens(qtbot, window, folder, monkeypatch):
    open_data(qtbot, window, folder, monkeypatch)
    model = window.state.config.model
    window.state.set_model(dataclasses.replace(model, backbone="tiny_cnn"))
    know_your_data = window.show_know_your_data()
    know_your_data.resize(1000, 640)
    return know_your_data


def test_the_lens_from_map_to_another_folder(qtbot, window, folders, monkeypatch):
    from transfer_gui.core.analysis import know_your_data as engine_lens

    first, second = folders
    know_your_data = _lens(qtbot, window, first, monkeypatch)
    gate = threading.Event()
    real = engine_lens.label_issues

    def slow_label_check(*args, **kwargs):
        gate.wait(60)  # the label check ends only when the test has seen the map
        return real(*args, **kwargs)

    monkeypatch.setattr(engine_lens, "label_issues", slow_label_check)
    from transfer_gui.core.data import images

    decoded: set[str] = set()
    real_thumbnail = images.thumbnail

    def thumbnail(*args, **kwargs):
        decoded.add(threading.current_thread().name)
        return real_thumbnail(*args, **kwargs)

    monkeypatch.setattr(images, "thumbnail", thumbnail)
    train = window.state.config.train
    window.state.set_train(dataclasses.replace(train, image_size=40))
    qtbot.mouseClick(know_your_data.inspect_button, Qt.MouseButton.LeftButton)
    assert know_your_data.stop_button.isVisible()
    wait_until(qtbot, lambda: len(know_your_data.before.coords) == 49, 120)
    assert know_your_data.result is None and know_your_data.task.running  # the map is drawn; the check runs
    gate.set()
    wait_until(qtbot, lambda: know_your_data.result is not None and know_your_data.inspect_button.isEnabled(), 120)
    assert not know_your_data.stop_button.isVisible()
    assert know_your_data.result.data.pre.image_size == 40  # the recipe's size: the probe's cache

    # thumbnails decoded off the GUI thread, for the rows in view; no list box per row
    for index, table in ((1, know_your_data.review), (2, know_your_data.duplicates)):
        know_your_data.tabs.setCurrentIndex(index)
        wait_until(qtbot, lambda t=table: not t.item(0, 0).icon().isNull(), 10)
    assert decoded and threading.main_thread().name not in decoded
    assert not know_your_data.review.findChildren(QComboBox)
    know_your_data.tabs.setCurrentIndex(0)

    # the review list reads in the order of its probability column (the given label's,
    # lowest first), which is the order `inspect` writes
    shown = [float(know_your_data.review.item(r, 4).text().rstrip(" %")) for r in
             range(know_your_data.review.rowCount())]
    assert shown == sorted(shown) and len(shown) >= 2
    files = [know_your_data.review.item(r, 1).text() for r in range(know_your_data.review.rowCount())]
    assert files == [r["file"] for r in issue_rows(know_your_data.result)]
    # the exact copy: one row, both files shown
    exact = [r for r in range(know_your_data.duplicates.rowCount())
             if know_your_data.duplicates.item(r, 4).text() == "exact"]
    assert len(exact) == 1
    names = {know_your_data.duplicates.item(exact[0], 1).text(), know_your_data.duplicates.item(exact[0], 3).text()}
    assert "circle/copy_of_it.png" in names and len(names) == 2
    pairs = {frozenset((know_your_data.duplicates.item(r, 1).text(), know_your_data.duplicates.item(r, 3).text()))
             for r in range(know_your_data.duplicates.rowCount())}
    assert len(pairs) == know_your_data.duplicates.rowCount()  # no pair twice

    # a lasso of five points: one change of the project's data settings
    changes = []
    window.state.data_changed.connect(lambda: changes.append(1))
    know_your_data.before.select(np.arange(5))
    qtbot.mouseClick(know_your_data.exclude_button, Qt.MouseButton.LeftButton)
    assert len(window.state.config.data.exclude) == 5 and changes == [1]

    # a dot with no application to open it: the window says so
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)
    know_your_data.before.activated.emit(0)
    assert "Could not open" in know_your_data.status.text()

    # Stop while it runs
    qtbot.mouseClick(know_your_data.inspect_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(know_your_data.stop_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: know_your_data.inspect_button.isEnabled(), 60)
    assert know_your_data.status.text().startswith("Stopped")

    # another folder: nothing of the first stays
    qtbot.mouseClick(know_your_data.inspect_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: know_your_data.result is not None and know_your_data.inspect_button.isEnabled(), 120)
    assert know_your_data.review.rowCount() or know_your_data.duplicates.rowCount()
    open_data(qtbot, window, second, monkeypatch)
    assert know_your_data.result is None and len(know_your_data.before.coords) == 0
    assert know_your_data.review.rowCount() == 0 and know_your_data.duplicates.rowCount() == 0
    assert "excluded" not in know_your_data.selection_label.text()
    assert know_your_data.tabs.tabText(1) == "Likely label errors"


def test_the_map_after_training_sees_the_images_as_the_first_map(tmp_path, monkeypatch):
    """Both maps from images prepared alike (the first map's size), whatever size the run
    trained at: the two differ by training alone."""
    from runhelpers import tiny_config
    from transfer_gui.core import fit
    from transfer_gui.core.analysis import know_your_data as engine_lens
    from transfer_gui.ui.know_your_data.data_window import _trained_map

    root = tmp_path / "data"
    flipped_dataset(root, per_class=6)
    feats = engine_lens.data_features(str(root), "tiny_cnn", image_size=40)
    assert feats.pre.image_size == 40
    fit(tiny_config(root, "full", epochs=1, image_size=32, probe_first=False), tmp_path / "run")
    sizes = []
    made = engine_lens.FeatureRequest
    monkeypatch.setattr(engine_lens, "FeatureRequest",
                        lambda samples, pre, *a, **k: sizes.append(pre.image_size)
                        or made(samples, pre, *a, **k))
    coords, _score = _trained_map(str(tmp_path / "run"), feats, [], None)
    assert sizes == [40] and coords.shape == (len(feats.samples), 2)


def test_the_data_pages_counts_follow_review_decisions(qtbot, window, folders, monkeypatch):
    from transfer_gui.core import relative_name

    first, _ = folders
    open_data(qtbot, window, first, monkeypatch)
    page = window.data_page
    assert "review:" not in page.summary.text()
    scan = window.state.scan
    names = [relative_name(str(first), s.path) for s in scan.samples[:2]]
    know_your_data = window.show_know_your_data()
    for name in names:  # as the review list's Decision does
        know_your_data.mark(name, "exclude")
    assert "review: 2 left out" in page.summary.text()  # no Rescan needed
