"""(h) How long "Find learning rate" takes on a CPU: the fine-tune preset of the bundled
EfficientNet-Lite0 at 112 px on about a thousand small grayscale images of 10 classes.

The former sweep ran 100 steps from 1e-6 to 1; the present one runs `SWEEP_STEPS` (40) from
1e-5 to 1 (both end early once the loss diverges). A step costs the same in both, so the
figure is the sweep's time: set-up (scan, model, decoding every image once) plus its steps.

On a shared machine a whole 100-step sweep can take far longer than a benchmark should:
`--limit N` stops each sweep after N steps (Stop keeps the partial sweep) and the full
sweep's time is extrapolated from its set-up and its median step, and printed as such.

    python tests/bench/bench_lr_finder.py [--images 1000] [--limit N] [--threads T]
                                          [--present-only]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import data_root, fresh_cache, load_average, machine, report
from PIL import Image

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Callback, CancelToken, Progress, SweepProgress
from transfer_gui.core.train.lrfind.curve import SWEEP_END, SWEEP_START, SWEEP_STEPS
from transfer_gui.core.train.lrfind.sweep import lr_find

FORMER = {"start": 1e-6, "end": 1.0, "steps": 100}
PRESENT = {"start": SWEEP_START, "end": SWEEP_END, "steps": SWEEP_STEPS}
TARGET_SECONDS = 60.0


def gray_stripes(images: int, classes: int = 10, size: int = 28, seed: int = 0) -> Path:
    """`images` small grayscale PNGs in `classes` folders: stripes of one orientation per
    class, random frequency and phase, noisy (a small, easy 10-class set)."""
    folder = data_root() / f"stripes_{classes}x{images // classes}_{size}"
    if folder.is_dir():
        return folder
    tmp = folder.with_name(folder.name + ".part")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    for k in range(classes):
        (tmp / f"class{k}").mkdir(parents=True, exist_ok=True)
        for i in range(images // classes):
            angle = math.pi * k / classes + rng.normal(0, 0.05)
            wave = np.sin(rng.uniform(0.25, 0.5) * (xx * math.cos(angle) + yy * math.sin(angle))
                          + rng.uniform(0, 2 * math.pi))
            pixels = 128 + 80 * wave + rng.normal(0, 25, wave.shape)
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L").save(
                tmp / f"class{k}" / f"{i:04d}.png")
    tmp.rename(folder)
    return folder


class StepClock(Callback):
    """When each sweep step ended; stops the sweep after `limit` steps (0: never)."""

    def __init__(self, token: CancelToken, limit: int) -> None:
        self.token, self.limit = token, limit
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        self.steps: list[float] = []
        self.first_cpu = 0.0

    def on_progress(self, event: Progress) -> None:
        if isinstance(event, SweepProgress):
            if not self.steps:
                self.first_cpu = time.process_time() - self.cpu_start
            self.steps.append(time.perf_counter() - self.start)
            if self.limit and len(self.steps) >= self.limit:
                self.token.cancel()


def sweep(root: Path, settings: dict, limit: int) -> dict:
    fresh_cache()
    config = RunConfig(DataConfig(root=str(root)), ModelConfig(strategy="fine-tune"),
                       TrainConfig(image_size=112))
    token = CancelToken()
    clock = StepClock(token, limit)
    result = lr_find(config, [clock], token, **settings)
    wall = time.perf_counter() - clock.start
    cpu = time.process_time() - clock.cpu_start
    steps = clock.steps
    per_step = statistics.median(np.diff(steps)) if len(steps) > 1 else float("nan")
    setup = steps[0] - per_step if steps else wall
    figures = {"steps_run": len(steps), "stopped": result.stopped, "wall_s": round(wall, 1),
               "cpu_s": round(cpu, 1), "setup_s": round(setup, 1),
               "step_s": round(per_step, 2),
               "cpu_per_step_s": round((cpu - clock.first_cpu) / max(len(steps) - 1, 1), 2),
               "suggestion": result.suggestion}
    full = setup + settings["steps"] * per_step
    figures["full_sweep_s"] = round(wall if not result.stopped else full, 1)
    figures["full_sweep_extrapolated"] = bool(result.stopped)
    print(f"  {settings['steps']} steps from {settings['start']:g}: ran {len(steps)} "
          f"({'stopped' if result.stopped else 'to the end'}) in {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU; set-up {setup:.1f} s, median step {per_step:.2f} s; whole sweep "
          f"{'about ' if result.stopped else ''}{figures['full_sweep_s']} s; suggestion "
          f"{result.suggestion}", flush=True)
    return figures


def verdict(figures: dict, load: float | None) -> bool | None:
    """Met or not on an idle machine; None when the sweep was cut short or the machine busy
    (a load average above its cores)."""
    busy = load is None or load > (os.cpu_count() or 1)
    if figures["full_sweep_extrapolated"] or busy:
        return None
    return figures["full_sweep_s"] < TARGET_SECONDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=0,
                        help="stop each sweep after N steps and extrapolate (0: run it all)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--present-only", action="store_true",
                        help="only the present sweep (its steps, time and suggestion)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = gray_stripes(args.images)
    print(f"machine: {machine()}; load average {load_average()}", flush=True)
    print(f"data: {args.images} grayscale 28 px PNGs, 10 classes; fine-tune preset of "
          "EfficientNet-Lite0 at 112 px, batch 32", flush=True)
    load = load_average()
    if args.present_only:
        after = sweep(root, PRESENT, args.limit)
        report("LR finder: present sweep, seconds", {"present": after}, None,
               f"< {TARGET_SECONDS:.0f} s on 2 idle cores", verdict(after, load))
        return
    before = sweep(root, FORMER, args.limit)
    after = sweep(root, PRESENT, args.limit)
    ratio = after["full_sweep_s"] / before["full_sweep_s"]
    report("LR finder: present sweep / former sweep, seconds",
           {"former": before, "present": after, "load_average_end": load_average()},
           ratio, f"present < {TARGET_SECONDS:.0f} s on 2 idle cores",
           verdict(after, load),
           note="wall-clock on a shared machine: compare the two sweeps, not the seconds")


if __name__ == "__main__":
    main()
