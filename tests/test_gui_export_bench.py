"""The Export dialog offers int8 ONNX and measures every format in the background."""

from __future__ import annotations

import pytest

from transfer_gui.core import BenchRow


@pytest.mark.gui
def test_export_dialog_int8_and_the_benchmark_table(qtbot, tmp_path, monkeypatch):
    from test_gui_readability import _fake_run

    from transfer_gui.ui.widgets.notices.export_dialog import ExportDialog, exportable_runs

    run = _fake_run(tmp_path / "runs" / "flowers", 64, 0.9)
    dialog = ExportDialog(exportable_runs([run]), run, str(tmp_path / "p.tgproj"))
    qtbot.addWidget(dialog)
    dialog.format.setCurrentIndex(dialog.format.findData("onnx-int8"))
    assert dialog.chosen() == (run, str(tmp_path / "flowers.int8.onnx"), "onnx-int8")
    dialog.format.setCurrentIndex(dialog.format.findData("torchscript"))
    assert dialog.chosen()[1] == str(tmp_path / "flowers.pt")  # not flowers.int8.pt
    asked = []

    def fake(run_dir, callbacks=(), cancel=None):
        asked.append(run_dir)
        return [BenchRow("the run (PyTorch)", 4 << 20, 9.0, 3.0, 0.9, 1.0, 50),
                BenchRow("onnx", 4 << 20, 5.0, 2.0, 0.9, 1.0, 50),
                BenchRow("onnx-int8", 1 << 20, 2.5, 1.0, 0.86, 0.95, 50, "loses 4 points")]

    monkeypatch.setattr("transfer_gui.core.io.exportbench.benchmark_exports", fake)
    dialog.bench.button.click()
    qtbot.waitUntil(lambda: not dialog.bench.table.isHidden() and dialog.bench.task is None,
                    timeout=10_000)
    assert asked == [run]
    table = dialog.bench.table
    assert table.rowCount() == 3
    assert [table.item(2, j).text() for j in range(7)] == [
        "onnx-int8", "1.00 MiB", "0.25×", "2.5", "1.0", "86.0%", "95.0%"]
    assert table.item(2, 0).toolTip() == "loses 4 points"
    assert "Warning for onnx-int8" in dialog.bench.status.text()
