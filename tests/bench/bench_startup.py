"""Start-up as a person sees it: from launching `python -m transfer_gui` to its main window
mapped on a real X server.

Each launch is a fresh process under Xvfb with Qt's xcb platform. The window's appearance is
seen from outside the application: `xev` listens on the X server's root window and the first
MapNotify of a window titled "… transfer_gui" marks it. The application also reports (because
the benchmark sets TRANSFER_GUI_STARTUP_MARKS) when its window was first painted and when the
engine (PyTorch, the backbone list) finished loading in the background; a checkout without
those marks still gets the mapped time. Each launch's figures are printed, then the medians.

    python tests/bench/bench_startup.py [--repeats N] [--root CHECKOUT ...] [--display :N]

`--root` times another checkout; given more than once, the checkouts' launches alternate (a
before/after comparison under the same machine load). `--display` uses a running X server
instead of starting Xvfb. Needs Xvfb, xev and xprop (`apt-get install xvfb x11-utils`).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import load_average, report

ROOT = Path(__file__).resolve().parents[2]
TARGET_S = 1.0


class XServer:
    """Xvfb on a free display (or a given display), and `xev` reporting the windows mapped."""

    def __init__(self, display: str | None) -> None:
        self.xvfb: subprocess.Popen | None = None
        if display is None:
            display = self._start_xvfb()
        self.display = display
        self.maps: queue.Queue[tuple[float, str]] = queue.Queue()
        self.xev = subprocess.Popen(["xev", "-display", display, "-root", "-event",
                                     "substructure"], stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _start_xvfb(self) -> str:
        read, write = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1600x1000x24", "-nolisten",
             "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as stream:
            number = stream.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        return f":{number}"

    def _read(self) -> None:
        assert self.xev.stdout is not None
        mapped = 0.0
        for line in self.xev.stdout:
            if line.startswith("MapNotify"):
                mapped = time.time()
            elif mapped and "window" in line:  # "    event 0x50d, window 0x400007, override NO"
                self.maps.put((mapped, line))
                mapped = 0.0

    def next_window(self, deadline: float) -> tuple[float, str]:
        """(when, window id) of the next window mapped."""
        at, line = self.maps.get(timeout=max(0.01, deadline - time.time()))
        window = line.split("window ")[1].split(",")[0].strip()
        return at, window

    def title(self, window: str) -> str:
        out = subprocess.run(["xprop", "-display", self.display, "-id", window, "WM_NAME"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout

    def close(self) -> None:
        for process in (self.xev, self.xvfb):
            if process is not None:
                process.terminate()
                process.wait(10)


def launch(x: XServer, root: Path, home: str) -> dict[str, float]:
    """Seconds from launch to the window mapped (and painted, and the engine ready, when the
    checkout reports them)."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "DISPLAY": x.display,
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "TRANSFER_GUI_DATA_DIR": home, "XDG_CONFIG_HOME": home,
           "TRANSFER_GUI_STARTUP_MARKS": "1"}
    while not x.maps.empty():
        x.maps.get_nowait()
    start = time.time()
    child = subprocess.Popen([sys.executable, "-m", "transfer_gui"], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks: dict[str, float] = {}
    cpu = float("nan")
    threading.Thread(target=_read_marks, args=(child, marks), daemon=True).start()
    try:
        deadline = start + 120
        while "mapped" not in marks:
            at, window = x.next_window(deadline)
            if "transfer_gui" in x.title(window):
                marks["mapped"] = at
                cpu = cpu_seconds(child.pid)
        # let it finish starting (the engine loading in the background) before the next
        # launch; a checkout that reports no paint within seconds reports nothing
        _wait(child, marks, "painted", 5.0)
        if "painted" in marks:
            _wait(child, marks, "engine", 120.0)
    except queue.Empty:
        raise RuntimeError("the window never appeared") from None
    finally:
        child.kill()
        child.wait(30)
    return {**{name: at - start for name, at in marks.items()}, "cpu": cpu}


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far, all threads (less disturbed by other programs
    than the wall clock on a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(child: subprocess.Popen, marks: dict[str, float], name: str, seconds: float) -> None:
    deadline = time.time() + seconds
    while name not in marks and time.time() < deadline and child.poll() is None:
        time.sleep(0.05)


def _read_marks(child: subprocess.Popen, marks: dict[str, float]) -> None:
    assert child.stdout is not None
    for line in child.stdout:
        words = line.split()
        if len(words) == 3 and words[0] == "startup":  # "startup painted 1790000000.123"
            marks[words[1]] = float(words[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--root", type=Path, action="append",
                        help="a checkout to time (default: this one); given twice, the "
                             "launches of the two alternate, under the same machine load")
    parser.add_argument("--display", help="a running X server (default: start Xvfb)")
    args = parser.parse_args()
    roots = args.root or [ROOT]
    for tool in ("xev", "xprop") + (() if args.display else ("Xvfb",)):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is needed (apt-get install xvfb x11-utils)")
    home = tempfile.mkdtemp(prefix="tg_startup_")
    x = XServer(args.display)
    runs: dict[Path, list[dict[str, float]]] = {root: [] for root in roots}
    try:
        for root in roots:
            launch(x, root, home)  # warm the file cache: every launch then reads from memory
        for number in range(1, args.repeats + 1):
            for root in roots:
                figures = launch(x, root, home)
                runs[root].append(figures)
                print(f"launch {number}{'' if len(roots) == 1 else f' of {root}'}: "
                      + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in figures.items())
                      + f"  (load average {load_average()})", flush=True)
    finally:
        x.close()
        shutil.rmtree(home, ignore_errors=True)
    for root in roots:
        medians = {name: round(statistics.median(r[name] for r in runs[root]), 2)
                   for name in runs[root][0] if all(name in r for r in runs[root])}
        print(f"median of {args.repeats}{'' if len(roots) == 1 else f' for {root}'}: "
              + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in medians.items()))
        mapped = medians["mapped"]
        report("start-up: launch to the main window mapped under Xvfb (xcb), median",
               {**{f"{name}_s": seconds for name, seconds in medians.items()},
                "launches": [round(r["mapped"], 2) for r in runs[root]]},
               mapped / TARGET_S, f"< {TARGET_S} s", mapped < TARGET_S)


if __name__ == "__main__":
    main()
