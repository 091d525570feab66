"""Scanning an image folder: classes, usable files, problems, and the train/validation split.

Layouts understood (see `layout`): `ROOT/<class>/...` (split by seed); `ROOT/train/<class>/...`
with `ROOT/val/<class>/...` (the folder's own split); `ROOT/train/<class>/...` with
`ROOT/test/<class>/...` (validation drawn from train/, test/ kept apart for testing), or all
three. Files in nested folders under a class belong to that class. Nothing stops at the first
bad file: each one becomes a `Problem` with a reason.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UserError
from ..events import CancelToken, Work
from ..wording import count
from .images import (
    TINY_SIDE,
    ImageError,
    check_file,
    decode,
    is_ignored,
    is_supported,
    unsupported_reason,
)
from .layout import SplitDirs, describe, find_splits, split_like, split_name_warning


@dataclass(frozen=True)
class Sample:
    path: str
    label: int
    digest: str = field(default="", compare=False)  # content hash from the scan ("" unknown)
    targets: tuple[float, ...] = ()  # every task's labels (`labels`); () when `label` says all


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str
    severity: str = "error"  # "error": the file is skipped; "warning": it is used
    files: int = 1  # the files it stands for (a folder of a class the model does not know)


@dataclass
class FolderScan:
    """What a folder holds: classes, usable samples and what is wrong with the rest."""

    root: str
    classes: list[str]
    train: list[Sample]
    val: list[Sample]  # filled for a train/val layout; else empty until split
    problems: list[Problem] = field(default_factory=list)
    layout: str = "classes"  # "classes", "train-val" (own split) or "train-test"
    test_dir: str = ""  # a split layout's test/ folder, kept apart for testing
    test_images: int = 0  # its image files (counted, not decoded)
    split_names: tuple[str, ...] = ()  # the split folders' names on disk: train, val, test
    tasks: list = field(default_factory=list)  # a labels CSV's `labels.LabelTask`s

    def layout_text(self) -> str:
        """Which layout was recognised, in words."""
        return describe(self.layout, self.split_names, self.test_images)

    @property
    def samples(self) -> list[Sample]:
        return self.train + self.val

    def counts(self) -> list[int]:
        """Images per class. With a multi-label first task (a labels CSV), an image counts for
        each of its labels, not only the first it lists (its `label`)."""
        if self.tasks and self.tasks[0].multi_label:
            n = len(self.classes)  # the first task's 0/1 target columns
            return [sum(s.targets[i] > 0.5 for s in self.samples) for i in range(n)]
        counter = Counter(s.label for s in self.samples)
        return [counter.get(i, 0) for i in range(len(self.classes))]

    def summary(self) -> str:
        n = len(self.samples)
        errors = sum(p.severity == "error" for p in self.problems)
        text = f"{count(len(self.classes), 'class')}, {count(n, 'image')}"
        return text + (f", {errors} skipped" if errors else "")


NO_ROWS = "no row of the labels CSV names a usable image"
NO_CLASSES = ("no class folders: put each class's images in a sub-folder named after the "
              "class")


class DataError(UserError, ValueError):
    """The folder cannot be used for training; the message says why."""


def find_split_dirs(root: Path) -> SplitDirs | None:
    """The split sub-folders of `root` (train/ with val/ and/or test/), if it is laid out
    that way."""
    return find_splits(root, _subdirs)


def _subdirs(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError:
        return []
    return [p for p in entries if not is_ignored(p.name) and _is_dir(p)]


def no_folder(path: str | os.PathLike[str], what: str = "") -> DataError:
    """The error for a folder that is not there: missing (a typo) or something else."""
    missing = not os.path.lexists(path)
    return DataError(f"{what}{path} {'does not exist' if missing else 'is not a folder'}")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def walk_files(folder: Path, problems: list[Problem]) -> Iterator[Path]:
    """Every non-hidden file under `folder`, following links but never into a folder twice
    and never up into a folder that contains the link (a loop)."""
    seen: set[str] = set()
    stack = [folder]
    while stack:
        current = stack.pop()
        real = os.path.realpath(current)
        if real in seen:
            problems.append(Problem(str(current), "folder visited already through a link",
                                    "warning"))
            continue
        seen.add(real)
        for entry in _listing(current, problems):
            path = Path(entry.path)
            if _is_dir(path):
                _enter(entry, path, real, stack, problems)
            elif entry.is_symlink() and not path.exists():
                problems.append(Problem(str(path), _unusable_link(path)))
            else:
                yield path


def _listing(folder: Path, problems: list[Problem]) -> list[os.DirEntry]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        problems.append(Problem(str(folder), f"folder cannot be read: {exc.strerror}"))
        return []
    return [e for e in entries if not is_ignored(e.name)]


def _enter(entry: os.DirEntry, path: Path, parent_real: str, stack: list[Path],
           problems: list[Problem]) -> None:
    """Queue a sub-folder, unless it is a link back up into a folder that contains it."""
    if entry.is_symlink() and _is_inside(parent_real, os.path.realpath(path)):
        reason = "symbolic link loop (the link points to a folder that contains it): skipped"
        problems.append(Problem(str(path), reason))
    else:
        stack.append(path)


def _unusable_link(path: Path) -> str:
    try:
        check_file(path)
    except ImageError as exc:
        return exc.reason
    return "symbolic link that cannot be followed"


def _is_inside(path: str, folder: str) -> bool:
    """Whether the real path `path` is `folder` or lies below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _collect(class_dirs: Iterable[Path], problems: list[Problem]) -> list[tuple[str, str]]:
    """(path, class name) for every supported file; unsupported ones become problems."""
    found = []
    for class_dir in class_dirs:
        for path in walk_files(class_dir, problems):
            if is_supported(path.name):
                found.append((str(path), class_dir.name))
            else:
                problems.append(Problem(str(path), unsupported_reason(path)))
    return found


def scan_folder(
    root: str | os.PathLike[str],
    verify: bool = True,
    val_dir: str | os.PathLike[str] | None = None,
    callbacks: Work | Iterable = (),
    cancel: CancelToken | None = None,
    workers: int = 4,
) -> FolderScan:
    """Scan `root` for classes and images. With `verify`, every image is decoded once to prove
    it is usable, and identical files are found by content. `callbacks` may be a `Work`."""
    task = Work.of(callbacks, cancel)
    root_path = Path(root)
    if not _is_dir(root_path):
        raise no_folder(root)
    if val_dir and not _is_dir(Path(val_dir)):
        raise no_folder(val_dir, "the validation folder ")
    problems: list[Problem] = []
    split = SplitDirs(root_path, Path(val_dir), None) if val_dir else find_split_dirs(root_path)
    layout = split.layout if split else "classes"
    train_root, val_root = (split.train, split.val) if split else (root_path, None)
    class_dirs = _subdirs(train_root)
    classes = [d.name for d in class_dirs]
    for stray in _stray_files(train_root):
        problems.append(Problem(str(stray), "file outside any class folder: ignored", "warning"))
    train_found = _collect(class_dirs, problems)
    val_found = _collect(_subdirs(val_root), problems) if val_root else []
    found = train_found + val_found
    checked = verify_files(found, verify, problems, task, workers)
    index = {name: i for i, name in enumerate(classes)}
    train: list[Sample] = []
    val: list[Sample] = []
    for i, ((path, name), digest) in enumerate(zip(found, checked, strict=True)):
        if digest is None:
            continue
        if name not in index:
            problems.append(Problem(path, f"validation class {name!r} has no training folder"))
            continue
        (train if i < len(train_found) else val).append(Sample(path, index[name], digest))
    scan = FolderScan(str(root_path), classes, train, val, problems, layout)
    if split is not None and not val_dir:
        _note_splits(scan, split, problems)
    _report_classes(scan, class_dirs)
    return scan


def _note_splits(scan: FolderScan, split: SplitDirs, problems: list[Problem]) -> None:
    """Record a split layout's folder names and test folder; warn about what it leaves out."""
    scan.split_names = tuple(p.name if p else "" for p in (split.train, split.val, split.test))
    for other in split.others:
        problems.append(Problem(str(other), "folder beside the split folders "
                                f"({', '.join(n for n in scan.split_names if n)}): not used",
                                "warning"))
    if split.test is None:
        return
    scan.test_dir = str(split.test)
    test_classes = _subdirs(split.test)
    scan.test_images = sum(is_supported(p.name) for d in test_classes
                           for p in walk_files(d, []))
    for folder in test_classes:
        if folder.name not in scan.classes:
            reason = (f"test class {folder.name!r} has no training folder: evaluation skips "
                      "its images")
            problems.append(Problem(str(folder), reason, "warning"))


def _stray_files(folder: Path) -> list[Path]:
    try:
        return sorted(
            p for p in folder.iterdir() if not is_ignored(p.name) and p.is_file()
        )
    except OSError:
        return []


def verify_files(
    found: list[tuple[str, str]],
    verify: bool,
    problems: list[Problem],
    task: Work,
    workers: int,
) -> list[str | None]:
    """Decode every file (in threads: Pillow releases the GIL while decoding). Returns each
    file's content digest, "" when not verified, None when the file is unusable."""
    if not verify:
        return [""] * len(found)
    results: list[tuple[bool, str | None]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for i, result in enumerate(pool.map(_check_one, (p for p, _ in found))):
            task.check()
            results.append(result)
            if i % 25 == 0 or i + 1 == len(found):
                task.progress(i + 1, len(found), "scan")
    _add_file_problems(found, results, problems)
    return [(info or "").rpartition(":")[2] if ok else None for ok, info in results]


def file_digest(path: str | os.PathLike[str]) -> str:
    """The hash of a file's bytes: what identifies an image's content in caches."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_one(path: str) -> tuple[bool, str | None]:
    """(usable, content digest or the reason it is not usable)."""
    try:
        image = decode(path, min_side=64)
        digest = file_digest(path)
    except ImageError as exc:
        return False, exc.reason
    except OSError as exc:
        return False, f"cannot be read: {exc.strerror or exc}"
    if min(image.size) < TINY_SIDE:
        return True, f"tiny:{image.size[0]}x{image.size[1]}:{digest}"
    return True, digest


def _add_file_problems(
    found: list[tuple[str, str]], results: list[tuple[bool, str | None]], problems: list[Problem]
) -> None:
    by_digest: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for (path, name), (ok, info) in zip(found, results, strict=True):
        if not ok:
            problems.append(Problem(path, info or "unusable"))
            continue
        if info and info.startswith("tiny:"):
            _, size, info = info.split(":", 2)
            problems.append(Problem(path, f"very small image ({size} pixels)", "warning"))
        by_digest[info or path].append((path, name))
    for copies in by_digest.values():
        names = sorted({name for _, name in copies})
        if len(names) > 1:
            for path, _ in copies:
                problems.append(Problem(path, _duplicate_reason(names), "warning"))
        elif len(copies) > 1:
            for path, _ in copies[1:]:
                problems.append(Problem(path, f"same content as {copies[0][0]}", "warning"))


def _duplicate_reason(names: list[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    return f"the same image is in classes {listed}: likely a labelling error"


def _report_classes(scan: FolderScan, class_dirs: list[Path]) -> None:
    if not scan.classes:
        scan.problems.append(Problem(scan.root, NO_CLASSES))
    suspicious = split_like(scan.classes)
    if suspicious:
        reason = split_name_warning(suspicious, scan.layout)
        scan.problems.append(Problem(scan.root, reason, "warning"))
    counts = scan.counts()
    for name, n, folder in zip(scan.classes, counts, class_dirs, strict=True):
        if n == 0:
            scan.problems.append(Problem(str(folder), f"class {name!r} has no usable images"))
        elif n == 1:
            reason = f"class {name!r} has a single image: too few to validate"
            scan.problems.append(Problem(str(folder), reason, "warning"))
    nonzero = [c for c in counts if c]
    if len(nonzero) >= 2 and max(nonzero) >= 5 * min(nonzero):
        reason = (f"classes are imbalanced: {max(nonzero)} vs {min(nonzero)} images; training "
                  "balances them unless told not to (Unbalanced classes, --balance)")
        scan.problems.append(Problem(scan.root, reason, "warning"))

