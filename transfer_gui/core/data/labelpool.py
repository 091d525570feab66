"""A pool of images being labelled, and its labels file.

The pool is every supported image under a folder. Images in a first-level sub-folder start
labelled with that folder's name (a folder where some images are already sorted), the images
at the top and in a folder named like `unlabelled` start unlabelled. Once a labels file exists
it alone says which image has which class: it is rewritten, atomically, after every change,
so what is on disk is always the last state the user saw.

The file is the CSV that training reads (`labels.py`): a header `file,label`, then one row
per labelled image, its path relative to the CSV's folder. So a labelled pool trains like
any CSV project (a folder's `labels.csv` wins over its class folders). Unlabelled images have
no row: training leaves them out.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .. import atomic
from .images import is_supported
from .labels import LABELS_FILE, SEPARATORS
from .scan import DataError, Problem, walk_files

HEADER = ("file", "label")
LOOSE_FOLDERS = frozenset({"unlabelled", "unlabeled", "unsorted", "loose", "new", "inbox"})
UNDO_LIMIT = 1000  # changes kept for undo
# writes (labels file, labels, root): the default writes at once; the window passes one that
# writes on a thread of its own (an fsync takes tens of milliseconds on a busy disk)
Writer = Callable[[Path, dict[str, str], Path], None]


@dataclass(frozen=True)
class Change:
    """One image's label before and after an edit (None: unlabelled)."""

    file: str
    before: str | None
    after: str | None


def check_class_name(name: str) -> str:
    """`name` stripped, or a DataError saying why it cannot name a class."""
    name = name.strip()
    if not name:
        raise DataError("a class needs a name")
    if SEPARATORS.search(name):
        raise DataError(f"class {name!r}: ';' and '|' separate several labels in a labels "
                        "CSV, so a class name cannot contain them")
    if "/" in name or "\\" in name or name in {".", ".."}:
        raise DataError(f"class {name!r}: a class name is also a folder name, so it cannot "
                        "contain '/' or '\\' or be '.' or '..'")
    return name


def _relative(path: Path, folder: Path) -> str:
    return path.relative_to(folder).as_posix()


def list_images(root: Path, problems: list[Problem] | None = None) -> list[str]:
    """Every supported image under `root`, as sorted paths relative to it."""
    found = problems if problems is not None else []
    return sorted(_relative(p, root) for p in walk_files(root, found) if is_supported(p.name))


def folder_labels(files: Iterable[str]) -> dict[str, str]:
    """The labels that class folders give: an image's first-level folder, unless that folder
    is named like a place for unsorted images."""
    out = {}
    for name in files:
        top, sep, _ = name.partition("/")
        if sep and top.lower().lstrip("_") not in LOOSE_FOLDERS:
            out[name] = top
    return out


@dataclass
class LabelPool:
    """The images under `root`, their labels, and the edits that undo can take back."""

    root: Path
    csv_path: Path
    files: list[str]
    labels: dict[str, str]  # image (relative to root) -> class
    classes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    history: list[list[Change]] = field(default_factory=list)
    writer: Writer | None = None

    @classmethod
    def open(cls, root: str | os.PathLike[str],
             labels_path: str | os.PathLike[str] | None = None) -> LabelPool:
        """The pool under `root`; its labels from `labels_path` (default: the folder's
        labels.csv) when that file exists, else from its class folders."""
        folder = Path(root).resolve()
        if not folder.is_dir():
            raise DataError(f"{root} is not a folder")
        table = Path(labels_path).resolve() if labels_path else folder / LABELS_FILE
        if not folder.is_relative_to(table.parent):
            raise DataError(f"{table}: a labels file names its images relative to its own "
                            f"folder, so it must be in {folder} or a folder above it")
        problems: list[Problem] = []
        files = [f for f in list_images(folder, problems) if f != table.name]
        labels = read_labels(table, folder) if table.exists() else folder_labels(files)
        pool = cls(folder, table, files, labels, sorted(set(labels.values())), problems)
        missing = sorted(set(labels) - set(files))
        pool.problems += [Problem(str(folder / f), "labelled in the labels file but not found "
                                  "in the folder: its row is kept", "warning") for f in missing]
        return pool

    # -- reading ---------------------------------------------------------------------------
    def label_of(self, file: str) -> str | None:
        return self.labels.get(file)

    def unlabelled(self) -> list[str]:
        return [f for f in self.files if f not in self.labels]

    def labelled(self) -> list[str]:
        return [f for f in self.files if f in self.labels]

    def counts(self) -> dict[str, int]:
        """Labels per class (rows of missing files included: they are in the file too)."""
        out = dict.fromkeys(self.classes, 0)
        for label in self.labels.values():
            out[label] = out.get(label, 0) + 1
        return out

    def _known(self) -> set[str]:
        """The files as a set, rebuilt only when `files` was replaced or grew."""
        cached = getattr(self, "_known_cache", None)
        if cached is None or cached[0] is not self.files or cached[1] != len(self.files):
            cached = (self.files, len(self.files), set(self.files))
            self._known_cache = cached
        return cached[2]

    # -- editing ---------------------------------------------------------------------------
    def add_class(self, name: str) -> str:
        name = check_class_name(name)
        if name not in self.classes:
            self.classes.append(name)
        return name

    def set_label(self, files: Sequence[str], label: str | None) -> list[Change]:
        """Give `files` the class `label` (None: clear it); writes the labels file. Returns the
        changes (none for files that already had that label)."""
        if label is not None:
            label = self.add_class(label)
        unknown = [f for f in files if f not in self.labels and f not in self._known()]
        if unknown:
            raise DataError(f"{unknown[0]} is not an image of {self.root}")
        changes = [Change(f, self.labels.get(f), label) for f in dict.fromkeys(files)
                   if self.labels.get(f) != label]
        if changes:
            self._apply(changes, forward=True)
            self.history = [*self.history, changes][-UNDO_LIMIT:]
        return changes

    def undo(self) -> list[Change]:
        """Take back the last edit (its changes; none when there is nothing to undo)."""
        if not self.history:
            return []
        changes = self.history.pop()
        self._apply(changes, forward=False)
        return changes

    def _apply(self, changes: list[Change], forward: bool) -> None:
        before = dict(self.labels)
        for c in changes:
            value = c.after if forward else c.before
            if value is None:
                self.labels.pop(c.file, None)
            else:
                self.labels[c.file] = value
        try:
            self.save()
        except OSError:
            self.labels = before  # the file still holds the old state: so does the pool
            raise

    def save(self) -> None:
        """Write the labels file atomically (a crash leaves the old file or the new one)."""
        (self.writer or write_labels)(self.csv_path, dict(self.labels), self.root)

    def rename_files(self, moves: dict[str, str]) -> None:
        """Record that files moved (old -> new relative paths); undo history is dropped, as
        it names the old paths."""
        self.files = sorted(moves.get(f, f) for f in self.files)
        self.labels = {moves.get(f, f): c for f, c in self.labels.items()}
        self.history = []


def write_labels(csv_path: Path, labels: dict[str, str], root: Path) -> None:
    atomic.write_text(csv_path, labels_text(labels, root, csv_path))


def labels_text(labels: dict[str, str], root: Path, csv_path: Path) -> str:
    """The CSV text: the header, then one row per labelled image, sorted by path."""
    prefix = _relative(root, csv_path.parent) if root != csv_path.parent else ""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for name in sorted(labels):
        writer.writerow((f"{prefix}/{name}" if prefix else name, labels[name]))
    return out.getvalue()


def read_labels(table: Path, root: Path) -> dict[str, str]:
    """image (relative to `root`) -> class, from a labels file with one label column."""
    try:
        with open(table, newline="", encoding="utf-8-sig") as handle:
            rows = [r for r in csv.reader(handle) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{table} cannot be read as a CSV file: {exc}") from None
    if rows and len(rows[0]) > 2:
        raise DataError(f"{table}, line 1: {len(rows[0]) - 1} label columns; labelling edits a "
                        "file with one (the path, then the class)")
    labels: dict[str, str] = {}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) < 2 or not row[1].strip():
            continue  # an unlabelled row
        path = Path(os.path.normpath(table.parent / row[0].strip()))
        if not path.is_relative_to(root):
            raise DataError(f"{table}, line {line}: {row[0]!r} is not under {root}")
        labels[_relative(path, root)] = row[1].strip()
    return labels
