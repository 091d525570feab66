"""The Label page at 20,000 images: opening the pool, and the GUI thread's time per key.

Makes 20,000 tiny PNGs (kept in the benchmark folder), opens them on the Label page (the
features are not computed: this measures the grid and the labels file, not the network),
scrolls the grid through, and labels 200 images by keyboard, timing each key's handling.

    QT_QPA_PLATFORM=offscreen nice -n 10 python tests/bench/bench_label_grid.py [--images N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from common import data_root  # noqa: E402


def make_pool(n: int) -> Path:
    from PIL import Image

    root = data_root() / f"label_pool_{n}"
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        path = root / f"img_{i:05d}.png"
        if not path.exists():
            Image.new("RGB", (24, 24), (i % 256, (i // 256) % 256, 90)).save(path)
    (root / "labels.csv").unlink(missing_ok=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20_000)
    args = parser.parse_args()
    root = make_pool(args.images)
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.pages.label_page import LabelPage
    from transfer_gui.ui.state import AppState

    app = create_app([])
    page = LabelPage(AppState())
    page.suggester.load = lambda *a: None  # the grid and the file, not the network
    page.resize(1400, 900)
    page.show()
    start = time.perf_counter()
    page.open_pool(str(root))
    app.processEvents()
    opened = time.perf_counter() - start
    grid = page.grid
    start = time.perf_counter()
    bar = grid.verticalScrollBar()
    for value in range(0, bar.maximum(), max(1, bar.maximum() // 100)):
        bar.setValue(value)
        app.processEvents()
    scrolled = (time.perf_counter() - start) / 100
    grid.select_row(0)
    grid.setFocus()
    keys = []
    for i in range(200):
        t = time.perf_counter()
        if i < 3:
            QTest.keyClicks(grid, f"class{i}")
            QTest.keyClick(grid, Qt.Key.Key_Return)
        else:
            QTest.keyClick(grid, str(1 + i % 3))
        keys.append(time.perf_counter() - t)
        app.processEvents()
    page.writer.flush()
    print(f"{args.images} images: open {opened:.2f} s; scroll step {1000 * scrolled:.0f} ms; "
          f"per key median {1000 * statistics.median(keys):.1f} ms, max {1000 * max(keys):.0f} "
          f"ms; labels.csv rows {len((root / 'labels.csv').read_text().splitlines()) - 1}")
    page.shutdown()


if __name__ == "__main__":
    main()
