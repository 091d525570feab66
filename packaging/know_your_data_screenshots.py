"""Screenshots of the "Know your data" window: the map (hovering a point) and the review list.

    xvfb-run -s "-screen 0 1600x1000x24" \
        python packaging/know_your_data_screenshots.py resources/screenshots

A generated folder of four shapes (160 images, 5 % of them moved to a wrong class folder) is
inspected with the bundled network, as the window's "Inspect the data" does.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(out: Path) -> None:
    import dataclasses

    from know_your_data_images import flipped_dataset
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from transfer_gui.core import DataConfig, inspect_data
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.know_your_data.data_window import KnowYourDataWindow
    from transfer_gui.ui.state import AppState

    app = create_app([])
    data = Path(tempfile.mkdtemp()) / "shapes"
    flipped_dataset(data, per_class=40)
    state = AppState()
    state.set_data(DataConfig(root=str(data)))
    window = KnowYourDataWindow(state)
    window.resize(1280, 760)
    window.show()
    window.show_result(inspect_data(DataConfig(root=str(data))))
    app.processEvents()
    view = window.before
    target = int(view.coords[:, 0].argmax())
    spot = view.plot.mapFromScene(view.scene_pos_of(target))
    viewport = view.plot.viewport()
    QApplication.sendEvent(viewport, QMouseEvent(
        QEvent.Type.MouseMove, QPointF(spot), QPointF(viewport.mapToGlobal(spot)),
        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier))
    for _ in range(5):
        app.processEvents()
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "know-your-data-map.png"))
    window.tabs.setCurrentIndex(1)
    window.review.decision_box(0).setCurrentIndex(1)  # the first row: excluded
    if window.review.rowCount() > 1:
        window.review.decision_box(1).setCurrentIndex(2)  # the second: relabelled
    for _ in range(5):
        app.processEvents()
    window.grab().save(str(out / "know-your-data-review.png"))
    print(dataclasses.asdict(state.config.data))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
