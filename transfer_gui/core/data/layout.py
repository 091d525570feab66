"""How an image folder is laid out: one sub-folder per class, or split folders.

A folder holding `train/` together with `val/` (`valid/`, `validation/`) and/or `test/`, each
holding class sub-folders, is a split layout (names compared without case). `val/` keeps the
folder's own train/validation split; `test/` is kept apart for testing and never trained on.
Class names that look like split names in any other arrangement are worth a warning: the
folder chosen is probably the parent of the real one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..wording import count

TRAIN_NAMES = ("train", "training")
VAL_NAMES = ("val", "valid", "validation")
TEST_NAMES = ("test", "testing")
SPLIT_NAMES = frozenset(TRAIN_NAMES + VAL_NAMES + TEST_NAMES)

SPLIT_HELP = ("a folder holding train/ beside val/ (or valid/, validation/) and/or test/, "
              "each with one sub-folder per class, is read as a split")


@dataclass(frozen=True)
class SplitDirs:
    """The split folders found under a root; `others` are its sub-folders outside them."""

    train: Path
    val: Path | None
    test: Path | None
    others: tuple[Path, ...] = ()

    @property
    def layout(self) -> str:
        return "train-val" if self.val is not None else "train-test"


def find_splits(root: Path, subdirs: Callable[[Path], list[Path]]) -> SplitDirs | None:
    """The split folders of `root` (`subdirs` lists a folder's sub-folders), or None when it
    is not laid out that way: a train folder with class sub-folders and a val or test one."""
    entries = {p.name.lower(): p for p in subdirs(root)}

    def pick(names: tuple[str, ...]) -> Path | None:
        return next((entries[n] for n in names if n in entries and subdirs(entries[n])), None)

    train, val, test = pick(TRAIN_NAMES), pick(VAL_NAMES), pick(TEST_NAMES)
    if train is None or (val is None and test is None):
        return None
    used = {p for p in (train, val, test) if p is not None}
    others = tuple(p for p in entries.values() if p not in used)
    return SplitDirs(train, val, test, others)


def split_like(classes: list[str]) -> list[str]:
    """The class names that read like split folders (train, val, test, …)."""
    return [name for name in classes if name.lower() in SPLIT_NAMES]


def split_name_warning(names: list[str], layout: str) -> str:
    """Why classes named like splits are suspicious, and what the folder should look like."""
    listed = " and ".join(", ".join(repr(n) for n in names).rsplit(", ", 1))
    what = (f"class {listed} looks like a split folder, not a class" if len(names) == 1 else
            f"classes {listed} look like split folders, not classes")
    where = " (inside a split folder)" if layout != "classes" else ""
    return (f"{what}{where}. {SPLIT_HELP[0].upper()}"
            f"{SPLIT_HELP[1:]}: choose that folder, or the folder of classes itself")


def describe(layout: str, names: tuple[str, ...], test_images: int = 0) -> str:
    """The layout in words. `names`: the split folders' own names (train, val, test) as found
    on disk ("" for one that is absent)."""
    if layout == "classes":
        return "one sub-folder per class; the validation images are drawn from them"
    if layout == "csv":
        return ("a labels CSV: one row per image, one column per task; the validation images "
                "are drawn from its rows")
    train, val, test = (f"{n}{os.sep}" if n else "" for n in (*names, "", "", "")[:3])
    kept = (f"{test} ({count(test_images, 'image')}) is kept apart for testing: Evaluate "
            f"on {test}" if test else "")
    if layout == "train-test":
        return (f"{train} and {test} folders of classes: the validation images are drawn "
                f"from {train}, and {kept}")
    if not val:
        return "a training folder and a separate validation folder"
    if not test:
        return f"{train} and {val} folders of classes: the folder's own split"
    return f"{train}, {val} and {test} folders of classes: the folder's own split, and {kept}"
