"""Shared pieces of the benchmarks: data folders, a fresh cache, timing, and reporting.

Every benchmark prints its figures as it goes and ends with one line `RESULT {json}` that
`run_all.py` collects into a table.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the repository: transfer_gui without installing
sys.path.insert(0, str(HERE))

import torch  # noqa: E402

from transfer_gui.core.events import Callback, EpochEnded, FitEnded, FitStarted, Progress  # noqa: E402


def data_root() -> Path:
    """Generated images are kept between runs (making them is slow): $TRANSFER_GUI_BENCH_DIR,
    else a folder in the system's temporary directory."""
    folder = os.environ.get("TRANSFER_GUI_BENCH_DIR")
    root = Path(folder) if folder else Path(tempfile.gettempdir()) / "transfer_gui_bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def photos(per_class: int, size: tuple[int, int] = (640, 480)) -> Path:
    """A folder of four classes of `per_class` photo-like JPEGs of `size`."""
    from photos import make_photo_folder

    folder = data_root() / f"photos_{size[0]}x{size[1]}_{per_class}"
    return make_photo_folder(folder, per_class, size=size)


def fresh_cache() -> Path:
    """Point the engine's cache at a new empty folder: every benchmark starts cold."""
    folder = Path(tempfile.mkdtemp(prefix="transfer_gui_cache_"))
    os.environ["TRANSFER_GUI_CACHE_DIR"] = str(folder)
    return folder


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")
    if torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name()}"
    return text


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


class Timeline(Callback):
    """Wall-clock times of a fit's milestones, relative to `start` (and the process's CPU time
    at each epoch's end, which other programs on a shared machine disturb much less)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.phases: dict[str, list[float]] = {}
        self.epochs: list[float] = []
        self.epochs_cpu: list[float] = []
        self.epoch_events: list[EpochEnded] = []
        self.end: float | None = None
        self.fit_started = self.fit_started_cpu = 0.0
        self.phases_cpu: dict[str, float] = {}  # CPU time at each phase's first event

    def now(self) -> float:
        return time.perf_counter() - self.start

    def cpu(self) -> float:
        return time.process_time() - self.cpu_start

    def on_progress(self, event: Progress) -> None:
        times = self.phases.setdefault(event.phase, [self.now(), self.now()])
        times[1] = self.now()
        self.phases_cpu.setdefault(event.phase, self.cpu())

    def on_fit_start(self, event: FitStarted) -> None:
        self.fit_started, self.fit_started_cpu = self.now(), self.cpu()

    def on_epoch_end(self, event: EpochEnded) -> None:
        self.epochs.append(self.now())
        self.epochs_cpu.append(self.cpu())
        self.epoch_events.append(event)

    def on_fit_end(self, event: FitEnded) -> None:
        self.end = self.now()


def timed(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = work()
    return time.perf_counter() - start, result


class Stopwatch:
    """Wall-clock and process CPU seconds (all threads) of a `with` block."""

    wall = cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(name: str, figures: dict[str, Any], ratio: float | None, target: str,
           met: bool | None, note: str = "") -> None:
    """Print the verdict and the machine-readable RESULT line."""
    verdict = {True: "MET", False: "NOT MET", None: "SKIPPED"}[met]
    print(f"\n== {name}: ratio {ratio if ratio is None else round(ratio, 3)} "
          f"(target {target}) -> {verdict}")
    if note:
        print(f"   {note}")
    print("RESULT " + json.dumps({
        "name": name, "ratio": ratio, "target": target, "met": met, "figures": figures,
        "note": note, "machine": machine(), "load_average": load_average(),
    }), flush=True)
