"""The Evaluate page driven with the mouse: hovering a confusion-matrix cell tells what it holds,
clicking it lists exactly the images behind it, on the validation matrix and on the matrix of
a test folder; the report it saves (pytest-qt, offscreen, the tiny test network)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog

from gui_helpers import wait_until
from imagegen import make_dataset
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.ui import worker
from transfer_gui.ui.pages import evaluate_page
from transfer_gui.ui.widgets.notices import dialogs
from transfer_gui.ui.widgets.plots.confusion import EMPTY, _cell_colour

pytestmark = pytest.mark.gui


@pytest.fixture()
def tiny_run(probe_run) -> str:
    """A linear probe of 2 epochs at 32 px on the shapes (trained once, this test's copy)."""
    return str(probe_run)


@pytest.fixture(scope="module")
def hard_folder(tmp_path_factory) -> Path:
    """A test folder whose colours say nothing about the class: the tiny probe, which learnt
    the colours, gets many of them wrong, so the matrix has mistakes to click."""
    return make_dataset(tmp_path_factory.mktemp("hard"), per_class=10, size=32, seed=11,
                        any_colour=True)


def cell_point(matrix, row: int, col: int) -> QPoint:
    """A point inside a cell (its upper left part, clear of the count written in its middle),
    from the matrix's layout (its left and top margins and cell side)."""
    left, top, cell = matrix._geometry()
    return QPoint(int(left + (col + 0.2) * cell), int(top + (row + 0.2) * cell))


def listed(page) -> list[str]:
    grid = page.cell_grid.grid_model
    return [grid.item(r).path for r in range(grid.rowCount())]


def expected(evaluation, row: int, col: int) -> list[str]:
    """The images whose true class is `row` and predicted class `col`, counted here."""
    return sorted(i.path for i in evaluation.result.items if i.target == row and i.pred == col)


def hover_and_click(qtbot, page, row: int, col: int) -> None:
    matrix = page.matrix
    at = cell_point(matrix, row, col)
    # the cell painted there is this one (hit-testing and painting agree)
    n = int(matrix.matrix[row, col])
    total = int(matrix.matrix[row].sum())
    colour = _cell_colour(n / total, row == col) if n else EMPTY
    assert matrix.grab().toImage().pixelColor(at) == colour
    qtbot.mouseMove(matrix, at)
    qtbot.wait(20)
    names = matrix.classes
    tip = matrix.toolTip()
    assert tip.startswith(f"true {names[row]}, predicted {names[col]}: {n} image"), tip
    qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=at)
    assert matrix.selected == (row, col)
    assert page.tabs.currentWidget() is page.cell_grid
    assert page.tabs.tabText(1) == f"True {names[row]}, predicted {names[col]} ({n})"


def mistake(matrix) -> tuple[int, int]:
    """An off-diagonal cell with images in it (the first one)."""
    cells = [(r, c) for r in range(len(matrix)) for c in range(len(matrix))
             if r != c and matrix[r, c]]
    assert cells, f"no mistakes to click in {matrix.tolist()}"
    return cells[0]


def test_save_report_is_offered_once_there_is_an_evaluation(qtbot, window, tiny_run,
                                                             tmp_path, monkeypatch):
    page = window.evaluate_page
    assert not page.report_button.isEnabled()
    window.state.set_run(tiny_run)
    wait_until(qtbot, lambda: page.evaluation is not None and not worker.live_jobs(), 60)
    assert page.report_button.isEnabled()
    # a folder that cannot be written to: said in a dialog, nothing else happens
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert not page.save_report(str(blocked / "report.html"))
    assert dialogs.SHOWN and dialogs.SHOWN[-1][0] == "Cannot save the report"


def test_hover_and_click_the_cells_of_every_matrix(qtbot, window, tiny_run, hard_folder,
                                                   monkeypatch, tmp_path):
    window.resize(1400, 900)
    page = window.evaluate_page
    window.state.set_run(tiny_run)
    window.show_step(3)
    wait_until(qtbot, lambda: page.evaluation is not None and not worker.live_jobs(), 60)
    validation = evaluate_run(tiny_run)
    assert (page.matrix.matrix == validation.result.confusion).all()
    # the highest-loss captions: the true class, then the predicted one, on their own lines
    losses = page.loss_grid.grid_model
    worst = validation.result.top_losses(1)[0]
    names = validation.result.classes
    assert losses.item(0).caption == f"{names[worst.target]}\n→ {names[worst.pred]}"

    test = evaluate_run(tiny_run, str(hard_folder))
    row, col = mistake(test.result.confusion)

    # the validation matrix: a cell with images, an empty one (nothing listed), then the cell
    # looked at next on the test folder
    full = next((r, c) for r in range(3) for c in range(3) if page.matrix.matrix[r, c])
    hover_and_click(qtbot, page, *full)
    assert sorted(listed(page)) == expected(validation, *full) != []
    empty = next((r, c) for r in range(3) for c in range(3) if not page.matrix.matrix[r, c])
    hover_and_click(qtbot, page, *empty)
    assert listed(page) == []
    # off the cells (the corner above the row names): no cell, no tooltip
    qtbot.mouseMove(page.matrix, QPoint(2, 2))
    qtbot.wait(20)
    assert page.matrix.toolTip() == ""
    hover_and_click(qtbot, page, row, col)
    assert sorted(listed(page)) == expected(validation, row, col)

    # a test folder: its own matrix, and the cell list follows it
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(hard_folder))
    qtbot.mouseClick(page.folder_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.headline.text().startswith("Test folder")
               and not worker.live_jobs(), 60)
    assert (page.matrix.matrix == test.result.confusion).all()
    page.layout().activate()  # the longer headline wraps: the page still fits 1024 px
    assert page.minimumSizeHint().width() <= 1024 - 176 - 20
    # the cell selected before now lists the test folder's images of that cell
    names = page.matrix.classes
    assert sorted(listed(page)) == expected(test, row, col) != []
    n = int(test.result.confusion[row, col])
    assert page.tabs.tabText(1) == f"True {names[row]}, predicted {names[col]} ({n})"
    assert page.matrix.selected == (row, col)
    # and every cell of the new matrix can be hovered and clicked
    for r in range(3):
        for c in range(3):
            hover_and_click(qtbot, page, r, c)
            assert sorted(listed(page)) == expected(test, r, c)
            assert all(Path(p).parent.name == names[r] for p in listed(page))
    assert not dialogs.SHOWN, dialogs.SHOWN

    # "Save report…": what the page shows (the test folder's scores), as HTML and as CSV
    saved = tmp_path / "hard-report"
    for kind, suffix in ((evaluate_page.HTML_FILTER, ".html"), (evaluate_page.CSV_FILTER,
                                                                ".csv")):
        monkeypatch.setattr(QFileDialog, "getSaveFileName",
                            lambda *a, kind=kind, **k: (str(saved), kind))
        qtbot.mouseClick(page.report_button, Qt.MouseButton.LeftButton)
        assert saved.with_suffix(suffix).is_file(), suffix
    html = saved.with_suffix(".html").read_text(encoding="utf-8")
    assert f"Accuracy {test.result.accuracy:.1%}" in html and str(hard_folder) in html
    assert 'src="data:image/png;base64,' in html
    rows = list(csv.DictReader(saved.with_suffix(".csv").open(encoding="utf-8")))
    assert [int(r["support"]) for r in rows[:3]] == test.result.confusion.sum(axis=1).tolist()
    assert not dialogs.SHOWN, dialogs.SHOWN


def test_cells_are_found_under_column_names_written_upwards(qtbot):
    """Long class names in a narrow matrix are written upwards over a taller top margin; the
    cell under the mouse is still the one painted there."""
    import numpy as np

    from transfer_gui.ui.widgets.plots.confusion import ConfusionMatrix

    matrix = ConfusionMatrix()
    qtbot.addWidget(matrix)
    names = [f"a rather long class name {i}" for i in range(5)]
    counts = np.arange(25).reshape(5, 5)
    matrix.set_matrix(names, counts)
    matrix.resize(420, 380)
    matrix.show()
    qtbot.waitExposed(matrix)
    left, top, cell = matrix._geometry()
    assert top > 40  # room for the names written upwards
    clicks: list[tuple[int, int]] = []
    matrix.cell_clicked.connect(lambda r, c: clicks.append((r, c)))
    image = matrix.grab().toImage()
    for r, c in ((0, 0), (0, 4), (4, 0), (2, 3), (4, 4)):
        at = cell_point(matrix, r, c)
        share = counts[r, c] / counts[r].sum()
        assert image.pixelColor(at) == (_cell_colour(share, r == c) if counts[r, c] else EMPTY)
        qtbot.mouseMove(matrix, at)
        qtbot.wait(10)
        assert matrix.toolTip().startswith(f"true {names[r]}, predicted {names[c]}: ")
        qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=at)
    assert clicks == [(0, 0), (0, 4), (4, 0), (2, 3), (4, 4)]
    # above the cells, on a column's name: its full name, and a click selects nothing
    above = QPoint(int(left + 2.5 * cell), int(top / 2))
    qtbot.mouseMove(matrix, above)
    qtbot.wait(10)
    assert matrix.toolTip() == f"predicted class: {names[2]}"
    qtbot.mouseClick(matrix, Qt.MouseButton.LeftButton, pos=above)
    assert len(clicks) == 5
