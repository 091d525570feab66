"""The Predict page with many images: streamed results, Stop and Clear, Grad-CAM for the shown
results only, the uncertainty flag, accuracy on labelled folders; Evaluate on a test folder."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QFileDialog

from gui_helpers import wait_until
from imagegen import make_dataset
from transfer_gui.core.analysis.predict import Predictor
from transfer_gui.ui import worker
from transfer_gui.ui.pages import predict_jobs, predict_page
from transfer_gui.ui.widgets.plots.prob_bars import ROW, UNCERTAIN, paint_bars
from transfer_gui.ui.widgets.tables.prediction_list import OVERLAYS

pytestmark = pytest.mark.gui

N = 60  # 20 images in each of the 3 class folders


@pytest.fixture()
def tiny_run(probe_run) -> str:
    """A linear probe of 2 epochs at 32 px on the shapes (trained once, this test's copy)."""
    return str(probe_run)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """Another labelled folder of the same classes (a test folder)."""
    return make_dataset(tmp_path_factory.mktemp("test"), per_class=N // 3, size=32, seed=7)


@pytest.fixture()
def page(window, tiny_run):
    window.state.set_run(tiny_run)
    window.show_step(4)
    page = window.predict_page
    assert page.source.currentData() == ("run", tiny_run)
    return page


def slow_chunks(monkeypatch, seconds: float = 0.15, chunk: int = 4) -> None:
    """Small chunks that take a while, so a test can act in the middle of a batch."""
    original = Predictor.predict_images

    def slow(self, images, top_k=5):
        time.sleep(seconds)
        return original(self, images, top_k)

    monkeypatch.setattr(Predictor, "predict_images", slow)
    monkeypatch.setattr(predict_jobs, "CHUNK", chunk)


def test_results_stream_in_and_stop_ends_the_batch(qtbot, page, labelled, monkeypatch):
    slow_chunks(monkeypatch)
    page.add_paths([str(labelled)])
    wait_until(qtbot, lambda: len(page.results) >= 4, 30)
    assert page.running and len(page.results) < N  # results shown before the batch ends
    assert "classifying" in page.summary.text()
    qtbot.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    stopped = time.monotonic()
    wait_until(qtbot, lambda: not page.running, 10)
    assert time.monotonic() - stopped < 2.0  # within a chunk (0.15 s here)
    kept = len(page.results)
    assert kept < N
    qtbot.wait(500)
    assert len(page.results) == kept  # nothing arrives after Stop
    assert f"stopped after {kept} of {N}" in page.summary.text()
    assert not page.stop_button.isEnabled()
    # read across the class folders in turn: the few results so far cover every class
    assert {r.truth for r in page.results} == {"circle", "square", "triangle"}
    assert f"on {kept} images of 3 classes" in page.summary.text()


def test_clear_during_a_batch_cancels_it_and_no_late_results_arrive(qtbot, page, labelled,
                                                                     monkeypatch):
    slow_chunks(monkeypatch)
    page.add_paths([str(labelled)])
    wait_until(qtbot, lambda: len(page.results) >= 4, 30)
    qtbot.mouseClick(page.clear_button, Qt.MouseButton.LeftButton)
    assert page.results == [] and page.summary.text() == ""
    wait_until(qtbot, lambda: not worker.live_jobs(), 10)  # the batch really ended
    qtbot.wait(300)
    assert page.results == [] and page.list.model().rowCount() == 0
    # a new batch after Clear works and counts from zero
    page.add_paths([str(labelled / "circle")])
    wait_until(qtbot, lambda: len(page.results) == N // 3 and not page.running, 30)


def test_gradcam_only_for_the_results_shown(qtbot, window, page, labelled, monkeypatch):
    made: list[int] = []
    original = Predictor.gradcam

    def counting(self, image, class_index=None):
        made.append(1)
        return original(self, image, class_index)

    monkeypatch.setattr(Predictor, "gradcam", counting)
    calls = []
    monkeypatch.setattr(predict_page, "cam_overlays", _record(calls, predict_jobs.cam_overlays))
    window.resize(1024, 680)
    page.cam.setChecked(True)
    qtbot.wait(100)  # laid out at this size while shown
    window.show_step(0)  # another page in front: no result is on screen
    page.add_paths([str(labelled)])
    wait_until(qtbot, lambda: len(page.results) == N and not worker.live_jobs(), 60)
    qtbot.wait(200)
    assert made == [] and calls == []
    window.show_step(4)  # back on Predict: the overlays of the rows on screen are made
    wait_until(qtbot, lambda: bool(calls) and not worker.live_jobs(), 30)
    shown = page.list.visible_rows()
    assert 0 < len(shown) < N
    asked = [row for jobs in calls for row, _ in jobs]
    assert set(asked) == set(shown) and len(made) == len(asked)  # never for unseen images
    assert all(page.list.overlays.get(row) is not None for row in shown)
    # scrolling to the end computes the newly shown ones; the overlays kept stay bounded
    page.list.scrollToBottom()
    wait_until(qtbot, lambda: N - 1 in page.list.overlays, 30)
    assert len(page.list.overlays) <= OVERLAYS and len(made) < N


def _record(calls: list, fn):
    def wrapper(channel, jobs, *args):
        calls.append(list(jobs))
        return fn(channel, jobs, *args)
    return wrapper


def test_uncertain_results_are_flagged_and_labelled_folders_scored(qtbot, window, page,
                                                                   labelled, tmp_path):
    page.add_paths([str(labelled)])
    wait_until(qtbot, lambda: len(page.results) == N and not page.running, 60)
    assert all(r.truth == Path(r.path).parent.name for r in page.results)
    correct = sum(r.label == r.truth for r in page.results)
    assert f"accuracy {correct / N:.1%} on {N} images of 3 classes" in page.summary.text()
    tops = [r.top_k[0][1] for r in page.results]
    for percent in (99, 1, 50):
        page.threshold.setValue(percent)
        flagged = sum(p < percent / 100 for p in tops)
        assert (f"{flagged} uncertain" in page.summary.text()) == (flagged > 0)
    page.threshold.setValue(99)
    page.export_csv(str(tmp_path / "p.csv"))
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    assert [row["uncertain"] for row in rows] == ["1"] * N
    assert [row["true_class"] for row in rows] == [Path(r.path).parent.name for r in page.results]
    assert [row["correct"] for row in rows] == [str(int(r.label == r.truth))
                                                for r in page.results]
    assert sum(row["correct"] == "1" for row in rows) == correct
    message = window.statusBar().currentMessage()
    assert f"Saved {N} predictions to {tmp_path / 'p.csv'}" == message
    page.list.grab()  # the rows paint (flags, bars and the threshold marker)


def test_threshold_marker_and_colour_on_the_bars():
    def render(threshold):
        image = QImage(300, ROW, QImage.Format.Format_RGB32)
        image.fill(QColor("white"))
        painter = QPainter(image)
        paint_bars(painter, QRectF(0, 0, 300, ROW), [("cat", 0.3)], QFont(), threshold)
        painter.end()
        return image

    def orange(image, y):  # how many pixels of row y have the warning colour
        return sum(image.pixelColor(x, y) == UNCERTAIN for x in range(image.width()))

    plain, flagged, sure = render(None), render(0.5), render(0.2)
    assert orange(plain, 3) == orange(plain, ROW // 2) == 0
    assert 1 <= orange(flagged, 3) <= 3  # the marker sticks out above the track
    assert orange(flagged, ROW // 2) > 20  # the bar of a result under the threshold
    assert 1 <= orange(sure, 3) <= 3 and orange(sure, ROW // 2) <= 3  # marker only


def test_evaluate_on_a_test_folder(qtbot, window, tiny_run, labelled, shapes_dir, monkeypatch):
    page = window.evaluate_page
    window.state.set_run(tiny_run)
    wait_until(qtbot, lambda: page.evaluation is not None and not worker.live_jobs(), 60)
    validation = int(page.matrix.matrix.sum())
    assert "validation split" in page.source.text()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(labelled))
    qtbot.mouseClick(page.folder_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.headline.text().startswith("Test folder"), 60)
    assert int(page.matrix.matrix.sum()) == N != validation
    assert page.headline.text().startswith(f"Test folder {labelled.name}: Accuracy")
    assert str(labelled) in page.source.text()
    assert page.table.rowCount() == 3
    # the folder the run trained on: its validation split, never its training images
    page.evaluate_folder(str(shapes_dir))
    wait_until(qtbot, lambda: "validation split" in page.source.text(), 60)
    assert int(page.matrix.matrix.sum()) == validation
    assert not page.headline.text().startswith("Test folder")
