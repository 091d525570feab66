"""Near-duplicates: the cosine threshold from which two images are listed, chosen on real photos.

Per seed, one folder of real images: three random crops (60-90 % of the side) of each of
scikit-image's sample photographs (different crops of one photo: alike, not copies), and 100
Fashion-MNIST photographs (ten of each class: alike, not copies); then 8 planted copies of
crops, shrunk to 24-32 px and blown up again (bicubic). Features: the bundled EfficientNet-
Lite0's, as `inspect` computes them. For each threshold, the planted pairs at or above it
(recall) and the other pairs above it (false pairs), and their F1; the plain baseline is the
fixed cut 0.92 (the previous default). The threshold with the best mean F1 on the choosing
seeds (ties to the higher cut) is chosen when it beats the fixed cut by MARGIN, and reported
on the other seeds.

    nice -n 10 python tests/bench/bench_near_duplicates.py [--choose 0,1] [--report 2,3]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402,F401 - the repository on the path
from realsets import data_root, load, pick, skimage_photos, to_rgb  # noqa: E402

from transfer_gui.core.analysis.embedding import normalised  # noqa: E402
from transfer_gui.core.analysis.know_your_data import data_features  # noqa: E402
from transfer_gui.core.analysis.neardups import THRESHOLD  # noqa: E402

BASELINE = 0.92
# a cut replaces the fixed one only when its F1 is this much higher on the choosing seeds (added
# after the first run, where 0.71 "won" with F1 0.02 against 0.00: one copy in sixteen found,
# with 80 false pairs; a tie on the reporting seeds)
MARGIN = 0.05
CUTS = [round(0.70 + 0.01 * i, 2) for i in range(27)]  # 0.70 .. 0.96
SIZE = 112
CHOICE_FILE = HERE / "near_duplicates_choice.json"


def folder_for(seed: int, copies: int = 8) -> tuple[Path, set[frozenset[str]]]:
    """The seed's folder and its planted pairs (file names)."""
    rng = random.Random(seed)
    root = data_root() / f"neardup_s{seed}"
    shutil.rmtree(root, ignore_errors=True)
    (root / "photos").mkdir(parents=True)
    (root / "clothes").mkdir()
    crops = []
    for name, photo in skimage_photos(512):
        for k in range(3):
            side = int(512 * rng.uniform(0.6, 0.9))
            x, y = rng.randint(0, 512 - side), rng.randint(0, 512 - side)
            crop = photo.crop((x, y, x + side, y + side)).resize((SIZE, SIZE),
                                                                  Image.Resampling.BICUBIC)
            file = f"{name}_{k}.png"
            crop.save(root / "photos" / file)
            crops.append((file, crop))
    images, labels, _ = load("fashion", "test")
    for i in pick(labels, [10] * 10, 0):
        to_rgb(images[i], SIZE).save(root / "clothes" / f"fashion_{i:05d}.png")
    planted = set()
    for file, crop in rng.sample(crops, copies):
        small = rng.randint(24, 32)
        copy = crop.resize((small, small), Image.Resampling.BICUBIC).resize(
            (SIZE, SIZE), Image.Resampling.BICUBIC)
        name = f"copy{small}_{file}"
        copy.save(root / "photos" / name)
        planted.add(frozenset((file, name)))
    return root, planted


def similarities(seed: int) -> tuple[np.ndarray, list[str], set[frozenset[str]]]:
    root, planted = folder_for(seed)
    data = data_features(str(root))
    x = normalised(data.features)
    return x @ x.T, [Path(s.path).name for s in data.samples], planted


def scores(sim: np.ndarray, names: list[str], planted: set[frozenset[str]]) -> dict:
    """Per cut: (recall of the planted pairs, false pairs, F1), and the planted pairs' ranks."""
    upper = np.triu_indices(len(names), 1)
    values = sim[upper]
    is_planted = np.array([frozenset((names[i], names[j])) in planted
                           for i, j in zip(*upper, strict=True)])
    out = {}
    for cut in [*CUTS, BASELINE]:
        above = values >= cut
        hits = int((above & is_planted).sum())
        false = int((above & ~is_planted).sum())
        recall = hits / len(planted)
        precision = hits / max(hits + false, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        out[cut] = (recall, false, f1)
    order = np.argsort(-values)
    ranks = sorted(int(np.flatnonzero(is_planted[order] )[k]) + 1
                   for k in range(int(is_planted.sum())))
    cos = sorted(float(v) for v in values[is_planted])
    return {"cuts": out, "ranks": ranks, "planted_cosines": cos}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--choose", default="0,1")
    parser.add_argument("--report", default="2,3")
    args = parser.parse_args()
    choose = [int(s) for s in args.choose.split(",")]
    report = [int(s) for s in args.report.split(",")]
    runs = {}
    for seed in choose + report:
        runs[seed] = scores(*similarities(seed))
        print(f"seed {seed}: planted cosines {[round(c, 3) for c in runs[seed]['planted_cosines']]}"
              f", ranks among all pairs {runs[seed]['ranks']}", flush=True)

    def mean(seeds: list[int], cut: float, k: int) -> float:
        return float(np.mean([runs[s]["cuts"][cut][k] for s in seeds]))

    best = max(CUTS, key=lambda c: (round(mean(choose, c, 2), 3), c))
    if mean(choose, best, 2) < mean(choose, BASELINE, 2) + MARGIN:
        best = BASELINE  # not clearly better than the fixed cut: the fixed cut stays
    print(f"\nchosen on seeds {args.choose}: {best}\n")
    print("| cut | choosing seeds: recall / false pairs / F1 | reporting seeds: recall / "
          "false pairs / F1 |")
    print("|---|---:|---:|")
    for cut in sorted({best, BASELINE, 0.80, 0.84, 0.86, 0.88, 0.90}):
        mark = " (baseline, fixed cut)" if cut == BASELINE else " (chosen)" if cut == best \
            else ""
        cells = [f"{mean(s, cut, 0):.2f} / {mean(s, cut, 1):.1f} / {mean(s, cut, 2):.2f}"
                 for s in (choose, report)]
        print(f"| {cut:.2f}{mark} | {cells[0]} | {cells[1]} |")
    CHOICE_FILE.write_text(json.dumps({"threshold": best, "choose_seeds": choose,
                                       "report_seeds": report}) + "\n")
    print(f"\nthe engine's default ({THRESHOLD}) {'is' if best == THRESHOLD else 'is NOT'} "
          "the choice")


if __name__ == "__main__":
    main()
