"""(m) Know your data: time to the first map, the label-error finder's precision and recall,
near-duplicate figures.

Part 1, the map step alone on synthetic features (N x 1280, ten clusters, like a backbone's
pooled features): PCA + openTSNE for 1,000 and 10,000 points, and the other answers on the
same rows (k-NN separability, out-of-fold probe + confident learning, blocked cosine pairs).

Part 2, end to end on 1,000 photo-like images (four classes): the bundled EfficientNet-Lite0's
features (cold cache, then warm) and the map: the time from pressing "Inspect" to the map.

Part 3, the finder on photo-like folders with 5 % of labels flipped on purpose: the flips among
the top 2 x flips rows (precision, recall), with confident learning and with the plain
self-confidence rank, for several seeds.

    python tests/bench/bench_know_your_data.py [--images N] [--sizes 1000,10000] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import fresh_cache, load_average, photos

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the generated sets

from know_your_data_images import flip_labels

from transfer_gui.core.analysis.embedding import embed, separability
from transfer_gui.core.analysis.know_your_data import data_features
from transfer_gui.core.analysis.labelissues import out_of_fold_probabilities, ranked
from transfer_gui.core.analysis.neardups import near_duplicates


def synthetic(n: int, dim: int = 1280, classes: int = 10, seed: int = 0) -> tuple:
    rng = np.random.default_rng(seed)
    centres = rng.gamma(1.0, 1.0, size=(classes, dim))
    labels = rng.integers(0, classes, n)
    feats = np.maximum(centres[labels] + rng.normal(0, 0.8, size=(n, dim)), 0)
    return feats.astype(np.float32), labels


def _timed(work, *args) -> str:
    """Wall-clock and process CPU seconds (the machine is shared: CPU time is the steadier)."""
    wall, cpu = time.perf_counter(), time.process_time()
    work(*args)
    return f"{time.perf_counter() - wall:.1f} s ({time.process_time() - cpu:.1f} s CPU)"


def part_map(sizes: list[int]) -> None:
    print("| points | map (PCA + t-SNE) | separability | label check | near-duplicates |")
    print("|---:|---:|---:|---:|---:|")
    for n in sizes:
        feats, labels = synthetic(n)
        cells = [_timed(embed, feats, 0), _timed(separability, feats, labels),
                 _timed(out_of_fold_probabilities, feats, labels, 10),
                 _timed(near_duplicates, feats)]
        print(f"| {n:,} | " + " | ".join(cells) + f" |  (load {load_average()})")


def part_end_to_end(images: int) -> None:
    folder = photos(images // 4, (320, 240))
    fresh_cache()
    for label in ("cold cache", "warm cache"):
        start = time.perf_counter()
        feats = data_features(str(folder))
        took = time.perf_counter() - start
        start = time.perf_counter()
        embed(feats.features, 0)
        mapped = time.perf_counter() - start
        print(f"| {len(feats.samples):,} photo-like images, {label} | features {took:.1f} s | "
              f"map {mapped:.1f} s | to the map {took + mapped:.1f} s | (load {load_average()})")


def flipped_copy(source: Path, seed: int, share: float = 0.05) -> tuple[Path, set[str]]:
    target = Path(tempfile.mkdtemp(prefix="flips_"))
    shutil.copytree(source, target, dirs_exist_ok=True)
    return target, flip_labels(target, share, seed)


def part_finder(images: int, seeds: list[int]) -> None:
    folder = photos(images // 4, (320, 240))
    print("| seed | flips | confident learning: precision / recall @2x | self-confidence |")
    print("|---:|---:|---:|---:|")
    for seed in seeds:
        root, moved = flipped_copy(folder, seed)
        data = data_features(str(root))
        probs = out_of_fold_probabilities(data.features, data.labels, len(data.classes), seed)
        cells = []
        for method in ("confident-learning", "self-confidence"):
            order, _ = ranked(probs, data.labels, method)
            top = {data.samples[i].path for i in order[:2 * len(moved)]}
            hits = len(top & moved)
            cells.append(f"{hits / (2 * len(moved)):.2f} / {hits / len(moved):.2f}")
        print(f"| {seed} | {len(moved)} | {cells[0]} | {cells[1]} |")
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--skip", default="", help="parts to skip: map,end,finder")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    if "map" not in skip:
        part_map([int(s) for s in args.sizes.split(",")])
    if "end" not in skip:
        part_end_to_end(args.images)
    if "finder" not in skip:
        part_finder(args.images, [int(s) for s in args.seeds.split(",")])


if __name__ == "__main__":
    main()
