"""The model zoo's list: how many models from each source, `transfer-gui backbones --json`
warm (the shipped cache) and the picker's filter time with 1,200 and with every row.

    python tests/bench/bench_zoo.py [--repeats N]

The cold build (every timm architecture built on the meta device) takes minutes and is timed
by `time python -m transfer_gui.core.models.zoo.build /tmp/zoo.json.gz`, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import load_average

ROOT = Path(__file__).resolve().parents[2]


def listing(repeats: int) -> tuple[list[float], list[float], dict[str, int]]:
    """Wall-clock and CPU seconds (user + system: what an idle core would take) per run."""
    times, cpu, counts = [], [], {}
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "TRANSFER_GUI_DATA_DIR": tempfile.mkdtemp()}
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "transfer_gui", "backbones", "--json"],
                             capture_output=True, text=True, env=env, check=True)
        times.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        counts = {}
        for row in json.loads(out.stdout):
            counts[row["source"]] = counts.get(row["source"], 0) + 1
    return times, cpu, counts


def filtering(rows: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds per keystroke typing "convnext" into the picker's search
    box, the table repainted after each."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from transfer_gui.ui.engine_loader import backbone_rows
    from transfer_gui.ui.widgets.tables.zoo_picker import ZooPicker

    app = QApplication.instance() or QApplication([])
    picker = ZooPicker()
    picker.resize(1000, 600)
    picker.show()
    picker.set_rows(backbone_rows()[:rows])
    app.processEvents()
    times, cpu = [], []
    for n in range(1, len("convnext") + 1):
        started, started_cpu = time.perf_counter(), time.process_time()
        picker.search.setText("convnext"[:n])
        app.processEvents()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    picker.search.clear()
    return times, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times, cpu, counts = listing(args.repeats)
    print(f"load average {load_average()}")
    print("| source | models |\n|---|---:|")
    for source, n in counts.items():
        print(f"| {source} | {n} |")
    print(f"\n`backbones --json`, warm: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, {args.repeats} runs); CPU time "
          f"median {statistics.median(cpu):.2f} s")
    for rows in (1200, 100_000):
        per_key, per_key_cpu = filtering(rows)
        print(f"filter {min(rows, sum(counts.values()))} rows: median "
              f"{statistics.median(per_key) * 1000:.1f} ms per key (max "
              f"{max(per_key) * 1000:.1f}), CPU {statistics.median(per_key_cpu) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
