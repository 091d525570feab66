"""The training and validation split: a folder's own train/val layout, or a stratified draw
that a seed makes reproducible."""

from __future__ import annotations

import random
from collections import defaultdict

from .scan import FolderScan, Sample


def split_samples(
    samples: list[Sample], val_split: float, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """Stratified split: each class contributes `val_split` of its images to validation
    (at least one when it has two or more), in an order fixed by `seed`."""
    by_class: dict[int, list[Sample]] = defaultdict(list)
    for sample in sorted(samples, key=lambda s: s.path):
        by_class[sample.label].append(sample)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        items = by_class[label]
        rng.shuffle(items)
        n_val = round(len(items) * val_split)
        if val_split > 0 and len(items) >= 2:
            n_val = min(max(n_val, 1), len(items) - 1)
        val.extend(items[:n_val])
        train.extend(items[n_val:])
    return train, val


def training_split(
    scan: FolderScan, val_split: float, seed: int, folder_split: bool = True
) -> tuple[list, list]:
    """The train and validation samples: the folder's own split, or a stratified one."""
    if scan.layout == "train-val" and folder_split:
        return list(scan.train), list(scan.val)
    return split_samples(scan.samples, val_split, seed)
