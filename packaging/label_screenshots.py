"""Screenshots of the Label page at 1400x900 and 1024x680.

    xvfb-run -s "-screen 0 1400x900x24" python packaging/label_screenshots.py resources/screenshots

A pool of 300 loose Fashion-MNIST photographs (Debian's dataset-fashion-mnist), 60 of them
labelled, with the bundled network's suggestions on the rest.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "bench")]
NAMES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
         "bag", "ankle boot")




def make_pool(root: Path, n: int = 300) -> dict[str, str]:
    """`n` loose PNGs; returns each file's true class."""
    from PIL import Image
    from realsets import load

    images, labels, _ = load("fashion", "test")
    images, labels = images[:n], labels[:n]
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        name = f"photo_{i:04d}.png"
        Image.fromarray(255 - image).resize((84, 84), Image.Resampling.BICUBIC).convert(
            "RGB").save(root / name)
        truth[name] = NAMES[int(label)]
    return truth


def settle(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main(out: Path) -> None:
    from PySide6.QtCore import QSettings

    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    app = create_app([])
    pool_dir = Path(tempfile.mkdtemp()) / "unsorted photos"
    truth = make_pool(pool_dir)
    settings = QSettings(str(pool_dir.parent / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1400, 900)
    window.show()
    window.show_step(6)
    page = window.page(6)
    page.open_pool(str(pool_dir))
    for name in sorted(truth)[:60]:
        page.pool.set_label([name], truth[name])
    page._update_classes()
    page._since_retrain = 1
    while page.suggester.features is None or page.suggester.busy:
        settle(app, 0.5)
    page._retrain()
    while page.suggester.busy or page.suggestions is None or page.suggestions.labelled < 60:
        settle(app, 0.5)
    page.grid.select_row(0)
    page.grid.setFocus()
    page.name_field.setText("sne")
    settle(app, 3)
    out.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out / "label.png"))
    window.resize(1024, 680)
    settle(app, 2)
    window.grab().save(str(out / "label-1024.png"))
    camera_shots(app, page, out)
    page.shutdown()
    window.close()


def camera_shots(app, page, out: Path) -> None:
    """The camera view on the generated source, recording, then playing."""
    from transfer_gui.core import PatternSource, pattern_predictor
    from transfer_gui.ui.pages.camera_dialog import PATTERN, CameraDialog

    dialog = CameraDialog(page.pool, pattern_predictor, page,
                          sources={PATTERN: PatternSource})
    dialog.show()
    dialog.start()
    dialog.play.setChecked(True)
    for size, name in (((1400, 900), "camera.png"), ((1024, 680), "camera-1024.png")):
        dialog.resize(*size)
        settle(app, 2)
        dialog.grab().save(str(out / name))
    dialog.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshots"))
