"""What the window says and how it reads: plot axes, messages, plurals, tooltips, thumbnails
(pytest-qt, offscreen)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _tick_strings(axis) -> list[str]:
    """The strings the axis draws for its current range, as pyqtgraph computes them."""
    low, high = axis.range
    size = axis.geometry().height() or 200
    strings = []
    for spacing, values in axis.tickValues(low, high, size):
        strings += axis.tickStrings(values, axis.autoSIPrefixScale * axis.scale, spacing)
    return strings


def test_plot_axes_show_plain_numbers_and_scientific_rates(qtbot):
    from transfer_gui.ui.widgets.plots.metric_plot import TrainingPlots

    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.resize(900, 300)
    plots.show()
    xs = [i / 100 for i in range(1, 31)]  # part of the first epoch: the x range is 0-0.3
    plots.add_steps(xs, [0.9 - 0.4 * x / 0.3 for x in xs], [1e-6 + 1e-6 * x for x in xs])
    plots.redraw()
    qtbot.wait(50)
    loss = plots.loss_plot.getPlotItem()
    rate = plots.lr_plot.getPlotItem()
    for item in (loss, rate):
        for side in ("left", "bottom"):
            assert "(x" not in item.getAxis(side).labelString(), item.getAxis(side).labelString()
    loss_ticks = [float(s) for s in _tick_strings(loss.getAxis("left"))]
    assert loss_ticks and all(0.3 <= v <= 1.1 for v in loss_ticks), loss_ticks
    rate_ticks = _tick_strings(rate.getAxis("left"))
    assert rate_ticks and all("e-" in s for s in rate_ticks), rate_ticks
    assert all(0.9e-6 <= float(s) <= 1.4e-6 for s in rate_ticks), rate_ticks


def test_small_images_fill_their_thumbnail_tile(qtbot, tmp_path):
    """A 28 px image is enlarged in whole pixels (sharp blocks); a 90 px one smoothly."""
    import numpy as np
    from PIL import Image

    from transfer_gui.ui.widgets.tables.image_grid import GridItem, ImageGrid

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (28, 28), dtype=np.uint8)
    tiny, small = tmp_path / "digit.png", tmp_path / "small.png"
    Image.fromarray(pixels, "L").save(tiny)
    Image.new("RGB", (90, 60), "red").save(small)
    grid = ImageGrid(size=112)
    qtbot.addWidget(grid)
    grid.set_items([GridItem(str(tiny)), GridItem(str(small))])
    for path in (tiny, small):
        assert grid.loader.pixmap(str(path)) is None  # queued
    qtbot.waitUntil(lambda: all(grid.loader.pixmap(str(p)) for p in (tiny, small)), timeout=10_000)
    image = grid.loader.pixmap(str(tiny)).toImage()
    assert (image.width(), image.height()) == (112, 112)
    shown = np.array([[image.pixelColor(x, y).red() for x in range(112)] for y in range(112)])
    assert np.array_equal(shown, np.kron(pixels, np.ones((4, 4), dtype=np.uint8)))
    enlarged = grid.loader.pixmap(str(small))
    assert (enlarged.width(), enlarged.height()) == (112, 75)


def _scanned_page(qtbot, window, folder):
    page = window.data_page
    with qtbot.waitSignal(window.state.scan_changed, timeout=30_000):
        page.open_folder(str(folder))
    return page


def test_folder_without_class_folders_says_so_in_a_banner(qtbot, window, tmp_path):
    from PIL import Image

    (tmp_path / "loose").mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), "blue").save(tmp_path / "loose" / f"{i}.png")
    page = _scanned_page(qtbot, window, tmp_path / "loose")
    assert page.banner.isVisible()
    text = page.banner.text()
    assert text.startswith("No class folders: put each class's images in a sub-folder")
    assert text.endswith(".")


def test_problems_tab_says_when_there_are_none(qtbot, window, shapes_dir):
    page = _scanned_page(qtbot, window, shapes_dir)
    assert not page.banner.isVisible()
    page.tabs.setCurrentIndex(1)
    empty = page.problems.empty
    assert empty.isVisible() and empty.text() == "No problems found in 48 files."
    assert page.problem_table.rowCount() == 0 and not page.problem_table.isVisible()


def _inputs(container) -> list:
    """The widgets a user types into, picks from or clicks in `container`; the parts of a
    spin box, combo box or table (its line edit, popup, corner button) are not inputs."""
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractItemView,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QTabBar,
        QWidget,
    )

    def part_of_another(widget) -> bool:
        parent = widget.parentWidget()
        while parent is not None and parent is not container:
            if isinstance(parent, (QAbstractSpinBox, QComboBox, QAbstractItemView, QTabBar)):
                return True
            parent = parent.parentWidget()
        return False

    kinds = (QAbstractSpinBox, QComboBox, QLineEdit, QAbstractButton)
    return [w for w in container.findChildren(QWidget)
            if isinstance(w, kinds) and not part_of_another(w)]


def _described(widget) -> bool:
    """A tooltip on the widget, or on the folder field whose "Choose…" button it is."""
    parent = widget.parentWidget()
    return bool(widget.toolTip()) or (type(parent).__name__ == "FolderField"
                                      and bool(parent.toolTip()))


def test_every_form_field_has_a_tooltip(qtbot):
    from transfer_gui.ui.pages.data_page import DataPage
    from transfer_gui.ui.pages.model_page import ModelPage
    from transfer_gui.ui.pages.train_form import TrainForm
    from transfer_gui.ui.pages.transfer_form import TransferForm
    from transfer_gui.ui.state import AppState

    state = AppState()
    missing = []
    for container in (TrainForm(), TransferForm(), DataPage(state), ModelPage(state)):
        qtbot.addWidget(container)
        missing += [f"{type(container).__name__}: {type(w).__name__} "
                    f"{getattr(w, 'text', lambda: '')()!r}"
                    for w in _inputs(container) if not _described(w)]
    assert not missing, "\n".join(missing)


def test_offline_user_is_warned_when_picking_weights_that_need_a_download(
        qtbot, window, monkeypatch):
    from transfer_gui.core.models.zoo import fetch

    monkeypatch.setattr(fetch, "is_online", lambda *a, **k: False)
    page = window.model_page
    window.show_step(1)
    rows = {row.name: row for row in page._rows}
    assert rows["resnet18"].weights == "download"
    page.picker.select("resnet18")
    qtbot.waitUntil(page.weights_banner.isVisible, timeout=10_000)
    assert page.weights_banner.text() == ("no network: load a weights file or pick a model "
                                          "whose weights are on this computer")
    page.picker.select("efficientnet_lite0")  # bundled: nothing to warn about
    assert not page.weights_banner.isVisible()


def test_help_menu_opens_the_quick_start(qtbot, window):
    from transfer_gui.core.io.project import runs_folder

    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    action = next(a for a in menu.actions() if a.text() == "&Quick start")
    action.trigger()
    dialog = window.quick_start
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    text = dialog.text.toPlainText()
    for words in ("Data", "Fine-tune top", "From scratch", "Where the runs are kept",
                  str(runs_folder(window.state.project))):
        assert words in text, words
    dialog.close()


def _fake_run(folder, size: int, acc: float, strategy: str = "linear-probe") -> str:
    import json

    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "backbone": "tiny", "classes": ["a", "b", "c"], "best": {"val_acc": acc},
        "preprocess": {"image_size": size}, "config": {"model": {"strategy": strategy}}}))
    (folder / "model.safetensors").write_bytes(b"")
    return str(folder)


def test_export_offers_every_run_names_the_image_size_and_a_visible_folder(
        qtbot, tmp_path, monkeypatch):
    from transfer_gui.ui.widgets.notices.export_dialog import (
        ExportDialog,
        default_folder,
        exportable_runs,
    )

    old = _fake_run(tmp_path / "p-runs" / "old", 64, 0.785)
    new = _fake_run(tmp_path / "p-runs" / "new", 96, 0.82, "fine-tune")
    (tmp_path / "p-runs" / "broken").mkdir()
    runs = exportable_runs([old, new, str(tmp_path / "p-runs" / "broken")])
    assert [r for r, _ in runs] == [new, old]  # newest first, unusable ones left out
    dialog = ExportDialog(runs, old, str(tmp_path / "p.tgproj"))
    qtbot.addWidget(dialog)
    assert dialog.run.count() == 2 and dialog.run.currentData() == old
    assert "64 × 64 pixels" in dialog.about.text() and "3 classes" in dialog.about.text()
    assert "old.labels.json" in dialog.about.text()
    assert "old.preprocess.json" in dialog.about.text()
    assert dialog.chosen() == (old, str(tmp_path / "old.onnx"), "onnx")
    dialog.run.setCurrentIndex(0)
    assert "96 × 96 pixels" in dialog.about.text()
    assert dialog.chosen() == (new, str(tmp_path / "new.onnx"), "onnx")
    # the format sets the suffix (and the file filter) and says how the file is used
    dialog.format.setCurrentIndex(dialog.format.findData("torchscript"))
    assert dialog.chosen() == (new, str(tmp_path / "new.pt"), "torchscript")
    assert "torch.jit.load" in dialog.about.text()
    dialog.format.setCurrentIndex(dialog.format.findData("torch-export"))
    assert dialog.chosen() == (new, str(tmp_path / "new.pt2"), "torch-export")
    assert "*.pt2" in dialog._format_row()[2]
    dialog.format.setCurrentIndex(dialog.format.findData("web"))  # a folder with a page
    assert dialog.chosen() == (new, str(tmp_path / "new-web"), "web")
    assert "index.html" in dialog.about.text() and "onnxruntime-web" in dialog.about.text()
    assert "fine-tune" in dialog.run.itemText(0) and "82.0%" in dialog.run.itemText(0)
    # an unsaved project: the Documents folder, not a hidden data folder
    (tmp_path / "home" / "Documents").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    assert default_folder(None) == str(tmp_path / "home" / "Documents")


def test_confusion_matrix_writes_long_class_names_upwards_with_full_names_in_tooltips(qtbot):
    import numpy as np
    from PySide6.QtCore import QPointF

    from transfer_gui.ui.widgets.plots.confusion import ConfusionMatrix

    names = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle_boot"]
    matrix = ConfusionMatrix()
    qtbot.addWidget(matrix)
    matrix.resize(440, 300)  # its size on the Evaluate page of a 1024x680 window
    matrix.set_matrix(names, np.eye(10, dtype=int) * 5)
    left, top, cell = matrix._geometry()
    width = matrix.fontMetrics().horizontalAdvance("Ankle_boot")
    assert cell < width and top >= width  # too narrow across, so written upwards, whole
    assert cell >= 18  # the counts still fit in the cells
    assert matrix.label_at(QPointF(left + 9.5 * cell, top - 5)) == "predicted class: Ankle_boot"
    assert matrix.label_at(QPointF(5, top + 0.5 * cell)) == "true class: T-shirt_top"


def test_rate_ticks_between_powers_of_ten_keep_their_digits():
    from transfer_gui.ui.widgets.plots.metric_plot import ScientificAxis

    axis = ScientificAxis("left")
    assert axis.tickStrings([0.0, 1e-3, 2e-3], 1.0, 1e-3) == ["0", "1e-3", "2e-3"]
    assert axis.tickStrings([5e-4, 1.5e-3], 1.0, 1e-3 / 2) == ["5e-4", "1.5e-3"]
    assert axis.tickStrings([1.05e-6], 1.0, 5e-8) == ["1.05e-6"]


def test_long_status_texts_do_not_widen_the_window(qtbot, window):
    """Every page fits a 1024 px wide window (with the 176 px sidebar), whatever its labels say."""
    long = "Finished after 12 epochs in 1 min 11 s; best validation accuracy 100.0% " * 2
    window.train_page.status.setText(long)
    window.evaluate_page.source.setText(long)
    window.compare_page.status.setText(long)
    for page in window.pages:
        page.layout().activate()
        assert page.minimumSizeHint().width() <= 1024 - 176 - 20, type(page).__name__
