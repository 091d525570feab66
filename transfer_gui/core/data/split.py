"""The training and validation split: a folder's own train/val layout, or a stratified draw
that a seed makes reproducible."""

from __future__ import annotations

import dataclasses
import os
import random
from collections import defaultdict
from collections.abc import Iterable

from .scan import DataError, FolderScan, Sample


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
    scan: FolderScan, val_split: float, seed: int, folder_split: bool = True,
    exclude: Iterable[str] = (), relabel: Iterable[str] = (),
) -> tuple[list, list]:
    """The train and validation samples: the folder's own split, or a stratified one; files
    in `exclude` are left out and the `relabel` pairs ("file=class") change labels (see
    `curated`) before the split, so the same seed puts an image on the same side either way."""
    scan = curated(scan, exclude, relabel)
    if scan.layout == "train-val" and folder_split:
        return list(scan.train), list(scan.val)
    return split_samples(scan.samples, val_split, seed)


def relative_name(root: str, path: str) -> str:
    """How the review names a file: its path under `root`, "/"-separated."""
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive on Windows
        return path.replace(os.sep, "/")
    return path.replace(os.sep, "/") if rel.startswith("..") else rel.replace(os.sep, "/")


def relabel_pairs(relabel: Iterable[str]) -> dict[str, str]:
    """{file: class} from "file=class" entries (the last "=" splits: a file may hold one)."""
    pairs = {}
    for entry in relabel:
        name, sep, label = entry.rpartition("=")
        if sep and name and label:
            pairs[name] = label
    return pairs


def review_effect(scan: FolderScan, exclude: Iterable[str] = (),
                  relabel: Iterable[str] = ()) -> tuple[int, int, int]:
    """(images left out, images relabelled, names found nowhere) of a review on `scan`. A
    relabel to a class the data does not have is refused, by name: it is a typo (a review CSV's
    action is "exclude" or a class), and ignoring it would train on the wrong label."""
    moves = relabel_pairs(relabel)
    wrong = sorted({label for label in moves.values() if label not in scan.classes})
    if wrong:
        name = next(n for n, label in moves.items() if label == wrong[0])
        raise DataError(f"the review's action {wrong[0]!r} (for {name}) is neither 'exclude' "
                        f"nor a class of {scan.root} ({', '.join(scan.classes)})")
    names = {relative_name(scan.root, s.path): s for s in scan.samples}
    index = {c: i for i, c in enumerate(scan.classes)}
    left_out = sum(n in names for n in set(exclude))
    moved = sum(n in names and n not in set(exclude) and names[n].label != index[label]
                for n, label in moves.items())
    missing = sum(n not in names for n in {*exclude, *moves})
    return left_out, moved, missing


def curated(scan: FolderScan, exclude: Iterable[str] = (),
            relabel: Iterable[str] = ()) -> FolderScan:
    """`scan` without the excluded files and with the relabelled ones moved to their new class
    (only in the lists: the files are never touched). A name or class not found is ignored."""
    left_out, moves = set(exclude), relabel_pairs(relabel)
    if not left_out and not moves:
        return scan
    index = {name: i for i, name in enumerate(scan.classes)}

    def keep(samples: list[Sample]) -> list[Sample]:
        out = []
        for sample in samples:
            name = relative_name(scan.root, sample.path)
            if name in left_out:
                continue
            label = index.get(moves.get(name, ""), sample.label)
            out.append(sample if label == sample.label
                       else dataclasses.replace(sample, label=label))
        return out

    return dataclasses.replace(scan, train=keep(scan.train), val=keep(scan.val))
