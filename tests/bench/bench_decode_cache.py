"""(c) Epoch 2 against epoch 1 on real-sized JPEGs, with the decoded-image cache.

A folder of 1600x1200 (1.9 megapixel) photo-like JPEGs. Epoch 1 is timed from the start of
decoding (the cache is filled before the first step) to the end of the epoch, epoch 2 from
there to its end; both include validation and the checkpoint, as a user waits for them.
Measured three ways:

* the data pipeline alone (every training batch produced, no network): what the cache removes;
* a fine-tune of EfficientNet-Lite0 (last 2 groups, light augmentation), where the network's
  forward and backward passes dominate an epoch on a CPU;
* a frozen EfficientNet-Lite0 with augmentation (only forward passes), where decoding weighs
  more.

Each with the cache turned off too, for comparison.

    python tests/bench/bench_decode_cache.py [--per-class N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from common import Timeline, fresh_cache, photos, report

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Task
from transfer_gui.core.train.engine import open_fit
from transfer_gui.core.train.loop import Trainer, prepare
from transfer_gui.core.train.sources import image_source


def config(root: Path, strategy: str, cache: bool) -> RunConfig:
    return RunConfig(DataConfig(root=str(root)), ModelConfig(strategy=strategy, unfreeze=2),
                     TrainConfig(epochs=2, augment="light", cache_decoded=cache))


def pipeline_epochs(cfg: RunConfig) -> tuple[float, float, float, float]:
    """(epoch 1 s, epoch 2 s, epoch 1 CPU s, epoch 2 CPU s) of producing the batches."""
    prep = prepare(cfg)
    device = torch.device("cpu")
    stamps = [(time.perf_counter(), time.process_time())]
    fit = open_fit(prep, device, Task())
    source = image_source(fit, prep)
    for epoch in (1, 2):
        for _batch in source.train_epoch(epoch):
            pass
        for _batch in source.val_batches():
            pass
        stamps.append((time.perf_counter(), time.process_time()))
    (w0, c0), (w1, c1), (w2, c2) = stamps
    return w1 - w0, w2 - w1, c1 - c0, c2 - c1


def training_epochs(cfg: RunConfig) -> tuple[float, float, float, float]:
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as out:
        Trainer().fit(cfg, Path(out) / "run", [timeline])
    start = timeline.phases.get("decode images", [timeline.fit_started])[0]
    first, second = timeline.epochs
    cpu_first, cpu_second = timeline.epochs_cpu
    cpu_start = timeline.phases_cpu.get("decode images", timeline.fit_started_cpu)
    return first - start, second - first, cpu_first - cpu_start, cpu_second - cpu_first


def measure(name: str, work, root: Path, strategy: str) -> None:
    figures = {}
    for cache in (True, False):
        first, second, cpu_first, cpu_second = work(config(root, strategy, cache))
        label = "cache" if cache else "no_cache"
        figures[f"{label}_epoch1_s"] = round(first, 2)
        figures[f"{label}_epoch2_s"] = round(second, 2)
        figures[f"{label}_cpu_ratio"] = round(cpu_second / cpu_first, 3)
        print(f"  {name}, {label}: epoch 1 {first:.2f} s ({cpu_first:.2f} s CPU), epoch 2 "
              f"{second:.2f} s ({cpu_second:.2f} s CPU)", flush=True)
    ratio = figures["cache_epoch2_s"] / figures["cache_epoch1_s"]
    report(f"epoch 2 / epoch 1, {name}", figures, ratio, "<= 0.5", ratio <= 0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    fresh_cache()
    root = photos(args.per_class, size=(1600, 1200))
    measure("data pipeline alone", pipeline_epochs, root, "fine-tune")
    measure("fine-tune Lite0", training_epochs, root, "fine-tune")
    measure("frozen Lite0 + augmentation", training_epochs, root, "linear-probe")


if __name__ == "__main__":
    main()
