"""(c) Epoch 2 against epoch 1 on real-sized JPEGs, with the decoded-image cache.

A folder of 1600x1200 (1.9 megapixel) photo-like JPEGs. Epoch 1 is timed from the start of
decoding (the cache is filled before the first step) to the end of the epoch, epoch 2 from
there to its end; both include validation and the checkpoint, as a user waits for them.
Measured three ways:

* the data pipeline alone (every training batch produced, no network): what the cache removes;
* a fine-tune of EfficientNet-Lite0 (last 2 groups, light augmentation) with the current
  recipe (LP-FT): epoch 1 is the linear probe (one forward pass over the images for their
  features, then the head), and fine-tuning starts in epoch 2. The run has 3 epochs and the
  figure compares the two fine-tuning epochs, epoch 3 against epoch 2 (the first one that
  decodes the images into the cache, or reads them without it); the probe's epoch is reported
  beside them. The network's forward and backward passes dominate an epoch on a CPU;
* a frozen EfficientNet-Lite0 with augmentation (only forward passes), where decoding weighs
  more.

Each with the cache turned off too, for comparison.

    python tests/bench/bench_decode_cache.py [--per-class N]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import torch
from common import Timeline, fresh_cache, photos, report

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.events import Work
from transfer_gui.core.train.epochs import open_fit
from transfer_gui.core.train.loop import Trainer, prepare
from transfer_gui.core.train.sources import image_source

PROBE_FIRST = {"fine-tune"}  # strategies whose epoch 1 is the linear probe (LP-FT)


def config(root: Path, strategy: str, cache: bool) -> RunConfig:
    epochs = 3 if strategy in PROBE_FIRST else 2  # two epochs of the same kind to compare
    return RunConfig(DataConfig(root=str(root)), ModelConfig(strategy=strategy, unfreeze=2),
                     TrainConfig(epochs=epochs, augment="light", cache_decoded=cache))


def pipeline_epochs(cfg: RunConfig) -> tuple[list[float], list[float]]:
    """(seconds, CPU seconds) of each of two epochs of producing the batches."""
    prep = prepare(cfg)
    device = torch.device("cpu")
    stamps = [(time.perf_counter(), time.process_time())]
    fit = open_fit(prep, device, Work())
    source = image_source(fit, prep)
    for epoch in (1, 2):
        for _batch in source.train_epoch(epoch):
            pass
        for _batch in source.val_batches():
            pass
        stamps.append((time.perf_counter(), time.process_time()))
    walls, cpus = zip(*stamps, strict=True)
    return ([b - a for a, b in itertools.pairwise(walls)],
            [b - a for a, b in itertools.pairwise(cpus)])


def training_epochs(cfg: RunConfig) -> tuple[list[float], list[float]]:
    """(seconds, CPU seconds) of each epoch; epoch 1 from the start of decoding (or the fit's
    start, when decoding comes later)."""
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as out:
        Trainer().fit(cfg, Path(out) / "run", [timeline])
    start = min(timeline.phases.get("decode images", [timeline.fit_started])[0],
                timeline.epochs[0])
    cpu_start = min(timeline.phases_cpu.get("decode images", timeline.fit_started_cpu),
                    timeline.epochs_cpu[0])
    walls, cpus = [start, *timeline.epochs], [cpu_start, *timeline.epochs_cpu]
    return ([b - a for a, b in itertools.pairwise(walls)],
            [b - a for a, b in itertools.pairwise(cpus)])


def measure(name: str, work, root: Path, strategy: str) -> None:
    figures: dict[str, float] = {}
    # the first of the two compared epochs (index): after the probe in a probe-first training
    first = 1 if work is training_epochs and strategy in PROBE_FIRST else 0
    for cache in (True, False):
        fresh_cache()  # each run cold: no features or images from the one before
        walls, cpus = work(config(root, strategy, cache))
        label = "cache" if cache else "no_cache"
        for epoch, (wall, cpu) in enumerate(zip(walls, cpus, strict=True), start=1):
            figures[f"{label}_epoch{epoch}_s"] = round(wall, 2)
            kind = " (the probe)" if first and epoch == 1 else ""
            print(f"  {name}, {label}: epoch {epoch}{kind} {wall:.2f} s ({cpu:.2f} s CPU)",
                  flush=True)
        figures[f"{label}_cpu_ratio"] = round(cpus[first + 1] / cpus[first], 3)
    a, b = f"cache_epoch{first + 1}_s", f"cache_epoch{first + 2}_s"
    ratio = figures[b] / figures[a]
    report(f"epoch {first + 2} / epoch {first + 1}, {name}", figures, ratio, "<= 0.5",
           ratio <= 0.5)


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
