"""The Model page's picker with 1,200 rows: typing in the search box, ticking "weights on this
computer", choosing a family, clicking a header to sort and a row to select, by real events."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, Qt

from transfer_gui.ui.engine_loader import BackboneRow
from transfer_gui.ui.widgets.tables.zoo_picker import ZooPicker
from transfer_gui.ui.widgets.tables.zoo_table import COLUMNS

pytestmark = pytest.mark.gui
FAMILIES = ("convnext", "resnet", "vit", "efficientnet", "regnety", "swin")


def rows(n: int = 1200) -> list[BackboneRow]:
    made = []
    for i in range(n):
        family = FAMILIES[i % len(FAMILIES)]
        tag = "lvd142m" if family == "vit" and i % 5 == 0 else "in1k"
        made.append(BackboneRow(
            name=f"timm/{family}_{i}.{tag}", title=f"{family}_{i}.{tag}",
            params=(i % 97 + 1) * 1_000_000, image_size=(224, 256, 384)[i % 3],
            top1=None, weights="cached" if i % 40 == 0 else "download", description="",
            source="timm", family=family,
            pretraining="self-supervised" if tag == "lvd142m" else "in1k"))
    return made


@pytest.fixture()
def picker(qtbot):
    widget = ZooPicker()
    qtbot.addWidget(widget)
    widget.resize(1000, 600)
    widget.show()
    widget.set_rows(rows())
    return widget


def shown_names(picker: ZooPicker) -> list[str]:
    proxy = picker.proxy
    return [proxy.index(r, 0).data() for r in range(proxy.rowCount())]


def test_typing_filters_as_you_type_and_fast(qtbot, picker):
    assert picker.proxy.rowCount() == 1200
    picker.search.setFocus()
    started = time.perf_counter()
    qtbot.keyClicks(picker.search, "lvd142")  # six filterings, one per key
    per_key = (time.perf_counter() - started) / 6
    names = shown_names(picker)
    assert names and all("lvd142m" in n for n in names)
    assert len(names) == sum(1 for r in rows() if "lvd142m" in r.name)
    assert picker.count.text() == f"{len(names)} of 1,200 models"
    print(f"filter 1,200 rows: {per_key * 1000:.1f} ms per key")
    assert per_key < 0.25  # responsive on a loaded 2-core machine
    qtbot.keyClick(picker.search, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(picker.search, Qt.Key.Key_Backspace)
    assert picker.proxy.rowCount() == 1200


def test_weights_here_box_and_family(qtbot, picker):
    box = picker.here_only
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert box.isChecked()
    assert picker.proxy.rowCount() == 30  # every 40th row is cached
    picker.family.setCurrentIndex(picker.family.findData("convnext"))
    assert shown_names(picker) and all(n.startswith("convnext") for n in shown_names(picker))
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert picker.proxy.rowCount() == 200


def test_header_click_sorts_and_row_click_selects(qtbot, picker):
    header = picker.view.horizontalHeader()
    params = COLUMNS.index("Params")
    at = QPoint(header.sectionViewportPosition(params) + 10, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=at)
    proxy = picker.proxy
    values = [proxy.index(r, params).data(Qt.ItemDataRole.UserRole) for r in range(50)]
    assert values == sorted(values)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=at)
    first = proxy.index(0, params).data(Qt.ItemDataRole.UserRole)
    assert first == 97e6  # descending: the largest first
    rect = picker.view.visualRect(proxy.index(2, 0))
    with qtbot.waitSignal(picker.chosen) as chosen:
        qtbot.mouseClick(picker.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen.args == [proxy.index(2, 0).data(Qt.ItemDataRole.ToolTipRole)]
    assert picker.current() is not None and picker.current().name == chosen.args[0]


def test_selecting_a_filtered_out_model_clears_the_filters(qtbot, picker):
    qtbot.keyClicks(picker.search, "swin")
    assert picker.select("timm/convnext_0.in1k")
    assert picker.search.text() == "" and picker.current().name == "timm/convnext_0.in1k"


NO_NETWORK = "no network: load a weights file or pick a model whose weights are on this computer"


def test_model_page_finds_dinov2_and_says_when_offline(qtbot, window, monkeypatch):
    import socket

    from gui_helpers import wait_until

    def refuse(*_args, **_kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(socket, "create_connection", refuse)  # offline, as a refused connection
    window.show_step(1)
    page = window.model_page
    picker = page.picker
    assert picker.table_model.rowCount() > 1000
    assert picker.current() is not None and picker.current().name == "efficientnet_lite0"
    qtbot.keyClicks(picker.search, "dinov2")
    names = shown_names(picker)
    assert "vit_small_patch14_dinov2.lvd142m" in names and all("dinov2" in n for n in names)
    row = names.index("vit_small_patch14_dinov2.lvd142m")
    rect = picker.view.visualRect(picker.proxy.index(row, 0))
    qtbot.mouseClick(picker.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    model_id = "timm/vit_small_patch14_dinov2.lvd142m"
    assert window.state.config.model.backbone == model_id
    assert "timm, self-supervised" in page.description.text()
    wait_until(qtbot, lambda: page.weights_banner.text() == NO_NETWORK, timeout=20)
    assert page.download.button.isVisible()
    # Download offline: something visible happens, and the sentence names the model
    qtbot.mouseClick(page.download.button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.download.label.text() == "not downloaded", timeout=20)
    assert page.weights_banner.text().startswith("no network to download the ")
    assert "vit_small_patch14_dinov2" in page.weights_banner.text()
    assert page.download.task is None and page.download.button.isEnabled()


def test_measure_speed_times_the_selected_model_and_remembers(qtbot, tiny_window):
    from gui_helpers import wait_until
    from transfer_gui.core import measured_speeds
    from transfer_gui.ui.widgets.tables.zoo_table import speed_text

    window = tiny_window
    window.show_step(1)
    page = window.model_page
    assert page.picker.select("tiny_cnn")
    qtbot.mouseClick(page.measure, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: page.picker.current().speed is not None, timeout=60)
    rate = page.picker.current().speed
    assert rate > 0 and measured_speeds()["tiny_cnn"] == pytest.approx(rate, rel=0.001)
    proxy = page.picker.proxy
    row = next(r for r in range(proxy.rowCount()) if proxy.index(r, 0).data() == "tiny_cnn"
               or proxy.index(r, 0).data(Qt.ItemDataRole.ToolTipRole).startswith("tiny_cnn"))
    assert proxy.index(row, COLUMNS.index("Speed")).data() == speed_text(rate)
    assert "images/s here" in page.description.text()
    assert page.measure.isEnabled()


def test_download_shows_size_and_speed_and_cancel_stops_it(qtbot, window, monkeypatch,
                                                           tmp_path):
    import time as clock

    import huggingface_hub
    import huggingface_hub.constants

    from gui_helpers import wait_until
    from transfer_gui.core.models.zoo import fetch

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setattr(fetch, "is_online", lambda _url: True)

    def slow_download(repo_id, filename, tqdm_class, **_kwargs):
        bar = tqdm_class(total=50_000_000)
        for _ in range(500):  # 100 kB every 20 ms until cancelled
            clock.sleep(0.02)
            bar.update(100_000)
        raise AssertionError("the download was not cancelled")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", slow_download)
    window.show_step(1)
    page = window.model_page
    assert page.picker.select("timm/convnext_tiny.fb_in22k")
    bar = page.download
    qtbot.mouseClick(bar.button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: "MB/s" in bar.label.text(), timeout=20)
    assert " of 50.0 MB" in bar.label.text() and bar.bar.isVisible()
    qtbot.mouseClick(bar.cancel, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: bar.task is None, timeout=20)
    assert bar.label.text() == "download cancelled" and not bar.bar.isVisible()
    assert not page.weights_banner.isVisible()


def test_billions_of_parameters_and_no_toy_networks(qtbot):
    from transfer_gui.ui.engine_loader import backbone_rows
    from transfer_gui.ui.widgets.tables.zoo_table import _cell

    big = BackboneRow(name="timm/huge.in1k", title="huge", params=6_720_100_000, image_size=224,
                      top1=None, weights="download", description="", source="timm")
    assert _cell(big, COLUMNS.index("Params")) == "6.7 B"
    listed = [row.name for row in backbone_rows()]
    assert listed and not [n for n in listed if n.startswith("timm/test_")]
