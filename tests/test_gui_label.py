"""The Label page, driven by the keyboard: 200 images labelled with no mouse after the first
click, every change in labels.csv at once, Enter, Backspace and Ctrl+Z, and the GUI thread
never busy for 100 ms at a stretch while the suggestions retrain in the background.

The pause is the GUI thread's own CPU time between two ticks of a 5 ms timer: on this shared
2-core machine (load 15-19 while measured) the wall-clock gaps are 120-265 ms with or without
retraining (the retrain runs in a process of its own), which is the scheduler, not the page."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from imagegen import SHAPES, shape_image
from transfer_gui.core import LabelPool

pytestmark = pytest.mark.gui
PAUSE_LIMIT = 0.100


@pytest.fixture(scope="module")
def pool_dir(tmp_path_factory) -> Path:
    """200 loose 32 px images of four shapes; a file's name starts with its shape."""
    import random

    root = tmp_path_factory.mktemp("pool")
    rng = random.Random(0)
    for i in range(200):
        shape = SHAPES[i % 4]
        shape_image(shape, 32, rng).save(root / f"{shape}_{i:03d}.png")
    return root


@pytest.fixture()
def page(qtbot, tmp_path, pool_dir):
    import shutil

    from transfer_gui.ui import worker
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.pages.label_page import LabelPage
    from transfer_gui.ui.state import AppState
    from transfer_gui.ui.widgets.notices import dialogs

    create_app([])
    worker.accept_jobs(True)  # a window closed by an earlier test stopped new tasks
    dialogs.SHOWN.clear()
    state = AppState()
    state.set_model(dataclasses.replace(state.config.model, backbone="tiny_cnn"))
    widget = LabelPage(state)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    shutil.copytree(pool_dir, tmp_path / "pool")
    assert widget.open_pool(str(tmp_path / "pool"))
    qtbot.waitUntil(lambda: widget.suggester.features is not None, timeout=60_000)
    yield widget
    widget.shutdown()
    qtbot.waitUntil(lambda: not worker.live_jobs(), timeout=20_000)


class PauseMeter:
    """The GUI thread's longest busy stretch: its CPU time between ticks of a 5 ms timer
    (and the longest wall-clock gap, which includes waiting for a CPU)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last, self.cpu = time.perf_counter(), time.thread_time()
        self.longest = self.wall = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.longest = max(self.longest, cpu - self.cpu)
        self.wall = max(self.wall, now - self.last)
        self.last, self.cpu = now, cpu

    def stop(self) -> float:
        self.timer.stop()
        return self.longest


def shape_of(file: str) -> str:
    return Path(file).name.split("_")[0]


def test_200_images_labelled_by_keyboard_without_pauses(page, qtbot):
    from PySide6.QtCore import Qt

    grid = page.grid
    first = grid.visualRect(grid.model().index(0, 0)).center()
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=first)  # the one click
    meter = PauseMeter()
    retrains = 0
    for _ in range(200):
        qtbot.wait(5)  # the event loop turns between keys, as it does for a person
        (file,) = grid.selected_files()
        name = shape_of(file)
        if name in page.pool.classes:
            qtbot.keyClick(grid, str(page.pool.classes.index(name) + 1))
        else:  # a new class: typed, then Enter
            qtbot.keyClicks(grid, name)
            qtbot.keyClick(grid, Qt.Key.Key_Return)
        retrains += page.suggester.busy
    qtbot.waitUntil(lambda: not page.suggester.busy, timeout=30_000)
    longest = meter.stop()
    assert page.writer.flush()
    saved = LabelPool.open(page.pool.root).labels
    assert len(saved) == 200 and all(label == shape_of(f) for f, label in saved.items())
    assert retrains > 10  # suggestions really were retraining while the keys came
    assert page.suggestions is not None and page.suggestions.cv_accuracy is not None
    assert longest < PAUSE_LIMIT, f"the GUI thread was busy {1000 * longest:.0f} ms"
    print(f"GUI thread: longest busy stretch {1000 * longest:.0f} ms, longest wall-clock gap "
          f"{1000 * meter.wall:.0f} ms")


def test_the_pause_meter_sees_a_busy_gui_thread(qtbot):
    from PySide6.QtCore import QTimer

    from transfer_gui.ui.app import create_app

    create_app([])
    meter = PauseMeter()
    qtbot.wait(20)

    def busy() -> None:
        end = time.thread_time() + 0.15
        while time.thread_time() < end:
            pass

    QTimer.singleShot(0, busy)
    qtbot.wait(50)
    assert meter.stop() >= PAUSE_LIMIT


def test_enter_backspace_and_undo(page, qtbot):
    from PySide6.QtCore import Qt

    grid = page.grid
    grid.setFocus()
    labelled = []
    for name in [shape for shape in SHAPES for _ in range(2)]:  # two of each, typed
        file = next(f for f in grid.label_model.files if shape_of(f) == name)
        grid.select_row(grid.label_model.row_of(file))
        qtbot.keyClicks(grid, name)
        qtbot.keyClick(grid, Qt.Key.Key_Return)
        labelled.append(file)
    qtbot.waitUntil(lambda: page.suggestions is not None and page.suggestions.labelled == 8,
                    timeout=30_000)  # the pause after the last labels retrains too
    grid.select_row(0)
    (file,) = grid.selected_files()
    suggestion = page.suggestions.by_file[file].label
    assert suggestion is not None and not page.name_field.text()
    qtbot.keyClick(grid, Qt.Key.Key_Return)  # accept the suggestion
    assert page.pool.labels.get(file) == suggestion, (page.grid.selected_files(), file)
    assert page.writer.flush()
    assert LabelPool.open(page.pool.root).labels[file] == suggestion
    row = grid.label_model.row_of(labelled[0])
    page.filter_box.setCurrentText("All images")
    grid.select_row(grid.label_model.row_of(labelled[0]) or 0)
    before = page.pool.labels[labelled[0]]
    qtbot.keyClick(grid, Qt.Key.Key_Backspace)
    assert page.writer.flush()
    assert labelled[0] not in LabelPool.open(page.pool.root).labels
    qtbot.keyClick(grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert page.writer.flush()
    assert LabelPool.open(page.pool.root).labels[labelled[0]] == before
    assert row is None  # labelled images had left the unlabelled view


def test_sort_moves_only_after_the_preview(page, qtbot):
    page.pool.set_label(page.pool.files[:4], "circle")
    moves = __import__("transfer_gui.core", fromlist=["plan_sort"]).plan_sort(page.pool)
    root = page.pool.root
    assert len(moves) == 4 and all((root / m.source).is_file() for m in moves)
    page.sort_now(moves)
    assert all((root / m.target).is_file() for m in moves)
    assert set(LabelPool.open(root).labels) == {m.target for m in moves}
