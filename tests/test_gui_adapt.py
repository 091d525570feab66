"""The window's side of domain adaptation: the Transfer form's methods and their costs, the
dashed target curve ending on the adapted model, Compare's source-only and adapted columns."""

from __future__ import annotations

import pytest

from transfer_gui.core import TransferConfig
from transfer_gui.core.events import FitEnded

pytestmark = pytest.mark.gui


def test_the_form_offers_every_method_and_shows_what_each_uses(qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from transfer_gui.ui.pages.transfer_form import TransferForm

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a: str(tmp_path))
    form = TransferForm()
    qtbot.addWidget(form)
    modes = [form.mode.itemData(i) for i in range(form.mode.count())]
    assert set(modes) >= {"auto", "align", "adabn", "adabn+align", "dann", "coral",
                          "dann+align", "coral+align"}
    layers = form.fields["adapt_layers"].widget

    form.mode.setCurrentIndex(form.mode.findData("align"))
    assert form.config() == TransferConfig("align", target_dir=str(tmp_path))
    assert form.form.isRowVisible(form.target)
    assert not form.form.isRowVisible(form.adapt_weight) and not form.form.isRowVisible(layers)
    assert "no target labels" in form.mode.toolTip() and "seconds" in form.mode.toolTip()

    form.mode.setCurrentIndex(form.mode.findData("dann"))
    assert form.form.isRowVisible(form.adapt_weight) and form.form.isRowVisible(layers)
    tip = form.mode.toolTip()
    assert "2.3x (112 px)" in tip and "CPU time" in tip  # DANN's cost, measured
    assert form.help.text() == tip
    layers.setValue(3)
    assert form.config().adapt_layers == 3


def test_the_target_curve_ends_on_the_adapted_model(qtbot):
    from transfer_gui.ui.widgets.plots.metric_plot import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.add_epoch(1, 0.9, 0.3, 0.9, 0.45)  # the source-only model's target accuracy
    plots.add_target(1, 0.62)  # after adaptation (what FitEnded.target_acc brings)
    series = plots.target_acc
    assert series.n == 2 and list(series.y[:2]) == [0.45, 0.62]


def test_the_train_page_draws_the_adapted_point_when_the_run_ends(qtbot, tmp_path):
    from transfer_gui.ui.pages.train_page import TrainPage
    from transfer_gui.ui.state import AppState

    page = TrainPage(AppState())
    qtbot.addWidget(page)
    before = page.plots.target_acc.n
    page.live.feed([FitEnded("completed", 3, 3, 0.9, 0.3, 12.0, str(tmp_path), "", 0.71)])
    assert page.plots.target_acc.n == before + 1
    assert page.plots.target_acc.y[before] == pytest.approx(0.71)


def test_compare_shows_source_only_and_adapted_target_accuracy_side_by_side(qtbot):
    from transfer_gui.ui.widgets.tables.compare_table import COLUMNS, CompareTable

    table = CompareTable()
    qtbot.addWidget(table)
    row = {"strategy": "linear-probe", "target_source_only": 0.488, "target_adapted": 0.584,
           "history": []}
    table.set_rows([("runs/adapted", row, "#1f77b4"), ("runs/plain", {"history": []}, "#ff7f0e")])
    headers = [c.header for c in COLUMNS]
    before = headers.index("Target: source only") + 1
    after = headers.index("Target: adapted") + 1
    assert after == before + 1  # side by side
    assert table.item(0, before).text() == "48.8 %" and table.item(0, after).text() == "58.4 %"
    assert table.item(1, after).text() == "–"  # a run without adaptation
    assert "before adaptation" in table.horizontalHeaderItem(before).toolTip()


def test_a_method_with_its_folder_does_not_widen_the_train_form(qtbot, window, tmp_path):
    """Choosing DANN shows the folder and weight rows (longer labels): the Train page's form
    must still fit its panel in a 1024 px window (before, the mode box's longest words pushed
    it 77 px wider, and the form scrolled sideways)."""
    from PySide6.QtWidgets import QScrollArea

    window.resize(1024, 680)
    window.show_step(2)
    form = window.train_page.transfer
    folder = tmp_path / ("deep" * 12) / "sketches"
    form.set_config(TransferConfig("dann+align", target_dir=str(folder)))
    form.edited.emit()
    qtbot.wait(50)
    scroll = form.parentWidget()
    while not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    assert form.isVisible()
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    assert scroll.horizontalScrollBar().maximum() == 0
