"""Start-up: time from launching the application to its window on screen, as the app does it
(PyTorch imported in the background afterwards) and with PyTorch imported up front.

Each launch is a fresh Python process, timed from just before it starts to the first paint of
the main window; the median of several launches is reported. The child also reports when the
background import of the engine finished (the backbone list and device appear then).

    python tests/bench/bench_startup.py [--repeats N]

It uses Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise (under Xvfb, set
QT_QPA_PLATFORM=xcb to measure a real X window).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import report

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import sys, time
sys.path.insert(0, {root!r})
if {torch_first}:
    import torch, torchvision  # noqa: F401
    import transfer_gui.core.train.loop  # noqa: F401
from PySide6.QtCore import QEvent, QObject, QTimer
from transfer_gui.ui.app import create_app
from transfer_gui.ui.main_window import MainWindow

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not hasattr(self, "at"):
            self.at = time.time()
            print("SHOWN", self.at, flush=True)
        return False

app = create_app([])
window = MainWindow()
watch = FirstPaint()
window.installEventFilter(watch)
window.state.engine_ready.connect(lambda: (print("ENGINE", time.time(), flush=True),
                                           window.state.set_modified(False), window.close()))
window.show()
QTimer.singleShot(0, window.start_engine)
app.exec()
"""


def launch(torch_first: bool, home: str) -> tuple[float, float]:
    """(seconds to the window's first paint, seconds until the engine was ready)."""
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
           "TRANSFER_GUI_DATA_DIR": home, "XDG_CONFIG_HOME": home}
    code = CHILD.format(root=str(ROOT), torch_first=torch_first)
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300)
    marks = dict(line.split() for line in out.stdout.splitlines()
                 if line.startswith(("SHOWN", "ENGINE")))
    if "SHOWN" not in marks:
        raise RuntimeError(f"the window never painted:\n{out.stderr[-2000:]}")
    return float(marks["SHOWN"]) - start, float(marks.get("ENGINE", "nan")) - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import tempfile

    home = tempfile.mkdtemp(prefix="tg_startup_")
    launch(False, home)  # warm the file cache: every variant then reads from memory
    results = {}
    for torch_first in (False, True):
        runs = [launch(torch_first, home) for _ in range(args.repeats)]
        shown = statistics.median(r[0] for r in runs)
        ready = statistics.median(r[1] for r in runs)
        label = "torch up front" if torch_first else "as shipped"
        print(f"{label:15}  window painted after {shown:.2f} s, engine ready after "
              f"{ready:.2f} s  (median of {args.repeats})")
        results[torch_first] = (shown, ready)
    shipped, upfront = results[False][0], results[True][0]
    report("start-up: window on screen, as shipped vs torch imported first",
           {"window_s": round(shipped, 2), "window_torch_first_s": round(upfront, 2),
            "engine_ready_s": round(results[False][1], 2)},
           shipped / upfront, "window well before torch is loaded", shipped < upfront / 2)


if __name__ == "__main__":
    main()
