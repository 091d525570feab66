"""Drive the real window through a whole session and save a screenshot of every page.

    xvfb-run -s "-screen 0 1280x800x24" python packaging/screenshots.py resources/screenshots
    xvfb-run -s "-screen 0 1280x800x24" python packaging/screenshots.py /tmp/small --size 1024x680

`--size WxH` sets the window size (default 1280x800), to check that every page is usable in a
small window; `--quick` trains fewer epochs and compares two strategies, for a faster check;
`--only lr-finder` takes the learning-rate finder's shot alone.

A generated dataset (four shapes in random colours) is trained with the default recipe (after
the learning-rate finder), so the Train, Evaluate and Predict pages show a real trained model;
then four strategies are compared on it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(out: Path, size: tuple[int, int] = (1280, 800), quick: bool = False,
         only: str | None = None) -> None:
    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from imagegen import SHAPES, make_dataset
    from transfer_gui.ui.app import create_app
    from transfer_gui.ui.main_window import MainWindow

    work = Path(tempfile.mkdtemp(prefix="tg-shots-"))
    os.environ["TRANSFER_GUI_DATA_DIR"] = str(work / "home")
    data = make_dataset(work / "shapes", classes=SHAPES, per_class=40, size=160, seed=7,
                        fmt="jpg", any_colour=True)
    app = create_app([])
    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(*size)
    window.show()

    def pump(seconds: float, until=lambda: False) -> None:
        end = time.time() + seconds
        while time.time() < end and not until():
            loop = QEventLoop()
            QTimer.singleShot(50, loop.quit)
            loop.exec()

    def shot(step: int, name: str) -> None:
        window.show_step(step)
        pump(1.0)
        out.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(out / f"{name}.png"))
        print("saved", out / f"{name}.png")
        if (window.width(), window.height()) != size:  # a page's minimum size won
            print(f"  the window is {window.width()}x{window.height()}, not {size[0]}x{size[1]}")
            for page in window.pages:
                hint = page.minimumSizeHint()
                print(f"    {type(page).__name__} needs at least {hint.width()}x{hint.height()}")

    window.start_engine()
    pump(60, lambda: window.state.engine is not None)
    window.data_page.open_folder(str(data))
    pump(60, lambda: window.state.scan is not None)
    pump(30, lambda: window.model_page.structure is not None)
    shot(0, "data")
    window.model_page.apply_preset("fine-tune")
    tree = window.model_page.tree
    tree.expand(tree.tree_model.find("stage7"))
    tree.expand(tree.tree_model.find("top"))
    window.model_page.picker.search.setText("efficientnet")  # the search, as one types it
    shot(1, "model")
    if only == "model":
        window.state.set_modified(False)
        window.close()
        return
    window.model_page.apply_preset("linear-probe")
    form = window.train_page.form
    form.image_size.setValue(128)
    form.epochs.setValue(3 if quick else 12)
    lr_finder(window, pump, out)
    if only == "lr-finder":
        window.state.set_modified(False)
        window.close()
        return
    window.show_step(2)
    window.train_page.start()
    pump(600, lambda: not window.train_page.running)
    shot(2, "train")
    export_dialog(window, pump, out)
    pump(120, lambda: window.evaluate_page.evaluation is not None)
    result = window.evaluate_page.evaluation.result
    wrong = [(t, p) for t in range(len(result.classes)) for p in range(len(result.classes))
             if t != p and result.confusion[t, p]]
    if wrong:
        window.evaluate_page.matrix.cell_clicked.emit(*wrong[0])
        window.evaluate_page.tabs.setCurrentIndex(1)
    shot(3, "evaluate")
    predict = window.predict_page
    predict.cam.setChecked(True)
    predict.add_paths([str(sorted((data / s).iterdir())[-1]) for s in SHAPES])
    pump(120, lambda: len(predict.results) >= len(SHAPES))
    shot(4, "predict")
    compare = window.compare_page
    window.show_step(5)
    compare.compare_strategies()
    strategies = ["linear-probe", "fine-tune", "scratch", "knn"]
    compare.strategies_dialog.set_strategies(strategies[::3] if quick else strategies)
    compare.strategies_dialog.epochs.setValue(2 if quick else 6)
    compare.strategies_dialog.accept()
    pump(900, lambda: not compare.running)
    pump(120, lambda: all(r in compare.summaries for r in compare.checked_runs()))
    shot(5, "compare")
    adaptation(window, pump, shot, work, epochs=3 if quick else 12)
    window.state.set_modified(False)
    window.close()
    app.processEvents()


def adaptation(window, pump, shot, work: Path, epochs: int) -> None:
    """Domain adaptation (DANN) from plain shapes to shapes on coloured blocks: the Transfer
    section and the target-domain accuracy curve."""
    from imagegen import make_dataset
    from transfer_gui.core.config import TransferConfig

    source = make_dataset(work / "plain", per_class=40, size=64, seed=0, any_colour=True)
    target = make_dataset(work / "blocks", per_class=40, size=64, seed=1, any_colour=True,
                          blocks=True)
    window.data_page.open_folder(str(source))
    pump(60, lambda: window.state.scan is not None and window.state.scan.root == str(source))
    pump(30, lambda: window.model_page.structure is not None)
    window.model_page.apply_preset("fine-tune")
    page = window.train_page
    page.form.image_size.setValue(64)
    page.form.epochs.setValue(epochs)
    page.form.batch_size.setValue(16)
    page.form.lr.setText("")
    page.transfer.set_config(TransferConfig("dann", target_dir=str(target)))
    page.transfer.edited.emit()
    window.show_step(2)
    page.start()
    pump(600, lambda: not page.running)
    scroll = page.transfer.parentWidget()
    while scroll is not None and not hasattr(scroll, "ensureWidgetVisible"):
        scroll = scroll.parentWidget()
    if scroll is not None:
        scroll.ensureWidgetVisible(page.transfer)
    shot(2, "adapt")


def lr_finder(window, pump, out: Path) -> None:
    """The learning-rate finder's dialog after its sweep; its suggestion is then used."""
    page = window.train_page
    window.show_step(2)
    page.find_lr()
    dialog = page.lr_dialog
    pump(300, lambda: not dialog.running)
    pump(1.0)
    out.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(out / "lr-finder.png"))
    print("saved", out / "lr-finder.png")
    dialog.use_button.click()


def export_dialog(window, pump, out: Path) -> None:
    """File > Export model with ONNX chosen, then cancelled."""
    window.projects.export_model()
    dialog = window.projects.export_dialog
    dialog.format.setCurrentIndex(dialog.format.findData("onnx"))
    pump(1.0)
    out.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(out / "export.png"))
    print("saved", out / "export.png")
    dialog.reject()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="resources/screenshots", type=Path)
    parser.add_argument("--size", default="1280x800", help="window size, WxH")
    parser.add_argument("--quick", action="store_true", help="fewer epochs and strategies")
    parser.add_argument("--only", choices=["lr-finder", "model"], help="take this shot alone")
    args = parser.parse_args(argv)
    width, _, height = args.size.partition("x")
    if not (width.isdigit() and height.isdigit()):
        parser.error(f"--size wants WxH, e.g. 1024x680, not {args.size!r}")
    args.size = (int(width), int(height))
    return args


if __name__ == "__main__":
    opts = parse_args(sys.argv[1:])
    main(opts.out, opts.size, opts.quick, opts.only)
