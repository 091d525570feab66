"""(b) A linear probe with the feature cache against ordinary frozen-backbone training.

Part 1, the 20x target: the same 20 epochs of a linear probe (EfficientNet-Lite0 frozen, no
augmentation) on the same folder, end to end (scan, model, every epoch, checkpoints):
ordinary training runs the backbone over every image every epoch; the feature cache runs it
once (cold: an empty cache), or not at all (warm: a second run of the same project).

Part 2, "about one forward pass": on about a thousand images, a default linear probe (10
epochs) against one plain forward pass of the backbone over the same images (decoding
included, as the probe's pass includes it), and a second run of the probe.

    python tests/bench/bench_linear_probe.py [--images N] [--big-images N] [--epochs N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from common import Stopwatch, Timeline, fresh_cache, photos, report
from torch.utils.data import DataLoader

from transfer_gui.core.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from transfer_gui.core.data.datasets import ImageDataset, Preprocess, eval_transform
from transfer_gui.core.data.scan import scan_folder
from transfer_gui.core.models.backbones import get_spec
from transfer_gui.core.models.weights import build_model
from transfer_gui.core.train.loop import Trainer
from transfer_gui.core.train.recipe import channels_last_for, pick_device
from transfer_gui.core.train.sources import extraction_batch


def fit_seconds(root: Path, epochs: int | None, cache_features: bool) -> Stopwatch:
    config = RunConfig(DataConfig(root=str(root)), ModelConfig(),
                       TrainConfig(epochs=epochs, cache_features=cache_features))
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as out, Stopwatch() as watch:
        result = Trainer().fit(config, Path(out) / "run", [timeline])
    print(f"  {'cached' if cache_features else 'ordinary'} probe, {len(timeline.epochs)} "
          f"epochs: {watch.wall:.1f} s ({watch.cpu:.1f} s CPU), best val acc "
          f"{result.best_val_acc:.3f}; phases "
          f"{ {k: round(v[1] - v[0], 1) for k, v in timeline.phases.items()} }", flush=True)
    return watch


def one_forward_pass(root: Path) -> Stopwatch:
    """What a plain script costs: decode every image, run the backbone once, in batches (of
    the size the engine uses for this pass, so that only the overheads differ)."""
    with Stopwatch() as watch:
        spec = get_spec("efficientnet_lite0")
        pre = Preprocess.for_backbone(spec)
        device = pick_device("auto")
        batch_size = extraction_batch(device, 32)
        fmt = torch.channels_last if channels_last_for(device) else torch.contiguous_format
        model = build_model(spec, None).to(device).to(memory_format=fmt).eval()
        dataset = ImageDataset(scan_folder(root, verify=False).samples, pre, eval_transform(pre))
        with torch.inference_mode():
            for x, *_ in DataLoader(dataset, batch_size=batch_size):
                model.body(x.to(device).contiguous(memory_format=fmt))
    print(f"  one forward pass over {len(dataset)} images: {watch.wall:.1f} s "
          f"({watch.cpu:.1f} s CPU)", flush=True)
    return watch


def part_one(args: argparse.Namespace) -> None:
    root = photos(args.images // 4)
    fresh_cache()
    cold = fit_seconds(root, args.epochs, True)
    warm = fit_seconds(root, args.epochs, True)
    ordinary = fit_seconds(root, args.epochs, False)
    ratio = ordinary.wall / cold.wall
    report(f"linear probe, {args.epochs} epochs: feature cache (cold) vs ordinary",
           {"images": args.images, "ordinary_s": round(ordinary.wall, 1),
            "cached_cold_s": round(cold.wall, 1), "cached_warm_s": round(warm.wall, 1),
            "cpu_ratio_cold": round(ordinary.cpu / cold.cpu, 1),
            "warm_speedup": round(ordinary.wall / warm.wall, 1),
            "cpu_ratio_warm": round(ordinary.cpu / warm.cpu, 1)},
           ratio, ">= 20x", ratio >= 20,
           "cold includes the one pass over the images that ordinary training repeats every "
           "epoch, so it is bounded by ~20x; the warm figure is a re-run of the same project")


def part_two(args: argparse.Namespace) -> None:
    root = photos(args.big_images // 4)
    fresh_cache()
    forward = one_forward_pass(root)
    cold = fit_seconds(root, None, True)
    warm = fit_seconds(root, None, True)
    ratio = cold.wall / forward.wall
    report(f"linear probe on {args.big_images} images vs one forward pass",
           {"forward_pass_s": round(forward.wall, 1), "probe_cold_s": round(cold.wall, 1),
            "probe_warm_s": round(warm.wall, 1),
            "cpu_ratio_cold": round(cold.cpu / forward.cpu, 2),
            "warm_vs_forward": round(warm.wall / forward.wall, 3)},
           ratio, "little more than 1 (here: <= 1.25), second run < 1",
           ratio <= 1.25 and warm.wall < forward.wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--big-images", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    part_one(args)
    part_two(args)


if __name__ == "__main__":
    main()
