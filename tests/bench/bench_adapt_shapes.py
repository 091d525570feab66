"""DANN and CORAL against source-only training on an MNIST-M-like shift (the claim the README
makes about fine-tuning with an adaptation loss; it was a test until the suite grew too slow).

    python tests/bench/bench_adapt_shapes.py [--seeds 0,1] [--epochs 15] [--per-class 40]

Source: three shapes in random colours on plain light backgrounds; target: the same shapes on
blocks of random colours (`imagegen.make_dataset(..., blocks=True)`), 40 per class each, 64 px.
EfficientNet-Lite0 with its bundled ImageNet weights at 64 px, fine-tuning its top four
groups, 15 epochs, batch 16, no augmentation, every source image training (no validation
split), so each run keeps its last epoch and only the method differs. Target accuracy is
over all the target images (their labels only score). The claim: each method's mean target
accuracy over the seeds beats source-only training's by at least 10 points (a single seed
need not show a gain: one where source-only training already does well).

The mechanism itself (CORAL pulls the target's feature statistics to the source's, DANN's
reversed gradient makes the domains harder to tell apart) is tested in seconds in
`tests/test_adapt.py`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the image generator
import common

from imagegen import make_dataset
from transfer_gui.core.analysis.evaluation import evaluate_run
from transfer_gui.core.config import (
    DataConfig,
    ModelConfig,
    RunConfig,
    TrainConfig,
    TransferConfig,
)
from transfer_gui.core.train.loop import Trainer

GAIN = 0.10  # the README's claim: at least 10 points over source-only, on the mean


def folders(root: Path, per_class: int) -> tuple[Path, Path]:
    source = make_dataset(root / "source", per_class=per_class, size=64, any_colour=True)
    target = make_dataset(root / "target", per_class=per_class, size=64, seed=1,
                          any_colour=True, blocks=True)
    return source, target


def config(source: Path, transfer: TransferConfig, seed: int, epochs: int) -> RunConfig:
    """One stage for all (adaptation runs have no head-only or probe stage)."""
    return RunConfig(
        DataConfig(root=str(source), seed=seed, val_split=0.0),
        ModelConfig(backbone="efficientnet_lite0", strategy="fine-tune", unfreeze=4),
        TrainConfig(epochs=epochs, batch_size=16, image_size=64, augment="none", seed=seed,
                    head_epochs=0, probe_first=False),
        transfer,
    )


def modes(target: Path) -> dict[str, TransferConfig]:
    return {"source only": TransferConfig(),  # the layers of --unfreeze 4 adapt, as they train
            "dann": TransferConfig("dann", target_dir=str(target), adapt_weight=1.0,
                                   adapt_layers=4),
            "coral": TransferConfig("coral", target_dir=str(target), adapt_weight=1000.0,
                                    adapt_layers=4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    common.fresh_cache()
    root = Path(tempfile.mkdtemp(prefix="adapt_shapes_"))
    source, target = folders(root, args.per_class)
    accuracy: dict[str, list[float]] = {name: [] for name in modes(target)}
    seconds: dict[str, list[float]] = {name: [] for name in modes(target)}
    for seed in seeds:
        for name, transfer in modes(target).items():
            run = root / f"{name.replace(' ', '-')}-{seed}"
            start = time.perf_counter()
            result = Trainer().fit(config(source, transfer, seed, args.epochs), run)
            seconds[name].append(time.perf_counter() - start)
            scored = evaluate_run(run, target, use_all=True).result.accuracy
            accuracy[name].append(scored)
            reported = result.history[-1].get("target_acc")
            print(f"seed {seed} {name:12s} status {result.status} train acc "
                  f"{result.history[-1]['train_acc']:.3f} target acc {scored:.3f} "
                  f"(reported {reported}) {seconds[name][-1]:.0f} s", flush=True)
    mean = {name: statistics.mean(values) for name, values in accuracy.items()}
    print(f"\n| method | {' | '.join(f'seed {s}' for s in seeds)} | mean | s per run |")
    print(f"|---|{'---|' * len(seeds)}---|---|")
    for name, values in accuracy.items():
        print(f"| {name} | {' | '.join(f'{v:.1%}' for v in values)} | {mean[name]:.1%} | "
              f"{statistics.mean(seconds[name]):.0f} |")
    gains = {name: mean[name] - mean["source only"] for name in ("dann", "coral")}
    met = all(gain >= GAIN for gain in gains.values())
    common.report("adapt_shapes", {"mean": mean, "accuracy": accuracy, "seconds": seconds},
                  min(gains.values()), f"each method >= source only + {GAIN:.0%} (mean)", met,
                  "gains " + ", ".join(f"{k} {v:+.1%}" for k, v in gains.items()))


if __name__ == "__main__":
    main()
