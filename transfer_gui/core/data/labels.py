"""Labels from a CSV file: one row per image, one column per task.

`DATA` may be a CSV file, or a folder holding `labels.csv` (which then wins over class
folders). The header row names the columns: the first holds each image's path, absolute or
relative to the CSV's folder (or to `image_root`, the way annotation tools export them; a path
may lead out of that folder, `../images/x.jpg`); every other column is a task named by its
header. A value that lists several
labels, separated by `;` or `|`, makes its column a multi-label task. Nothing stops at the first
bad row: each becomes a `Problem` that names its line, and many rows with the same cause (a
thousand missing files) become one problem that names the first lines.

A sample's `label` is its class in the first task (what the split is stratified on); when the
run has several tasks or a multi-label one, `targets` carries every task: one column per
single-label task (the class index) and one 0/1 column per label of a multi-label task.
"""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..events import CancelToken, Work
from .images import is_supported, unsupported_reason
from .scan import NO_ROWS, DataError, FolderScan, Problem, Sample, scan_folder, verify_files
from .trainable import require_trainable

LABELS_FILE = "labels.csv"
SEPARATORS = re.compile(r"[;|]")


@dataclass(frozen=True)
class LabelTask:
    """A label column: its header, its classes (sorted) and whether an image may carry
    several of them."""

    name: str
    classes: tuple[str, ...]
    multi_label: bool = False

    @property
    def width(self) -> int:
        """The target columns it takes."""
        return len(self.classes) if self.multi_label else 1

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "classes": list(self.classes),
                "multi_label": self.multi_label}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelTask:
        return cls(str(data["name"]), tuple(str(c) for c in data["classes"]),
                   bool(data.get("multi_label", False)))


def needs_targets(tasks: Sequence[LabelTask]) -> bool:
    """Whether samples carry `targets` (several tasks or a multi-label one), not just `label`."""
    return len(tasks) > 1 or any(t.multi_label for t in tasks)


def csv_file(data: str | os.PathLike[str]) -> Path | None:
    """The labels CSV that `data` names: the file itself, or a folder's `labels.csv`."""
    path = Path(data)
    if path.suffix.lower() == ".csv" and path.is_file():
        return path
    inside = path / LABELS_FILE
    return inside if path.is_dir() and inside.is_file() else None


def data_folder(data: str | os.PathLike[str]) -> str:
    """The folder paths are relative to: `data` itself, or a CSV file's folder."""
    path = Path(data)
    return str(path.parent) if path.suffix.lower() == ".csv" and not path.is_dir() else str(path)


def scan_data(
    data: str | os.PathLike[str],
    verify: bool = True,
    val_dir: str | os.PathLike[str] | None = None,
    callbacks: Work | Iterable = (),
    cancel: CancelToken | None = None,
    task: str | None = None,
    image_root: str | os.PathLike[str] | None = None,
) -> FolderScan:
    """Scan a labels CSV (see `csv_file`) or an image folder. `task`: the one CSV column to
    use (all of them when None). `image_root`: the folder a CSV's relative paths are read
    from (default: the CSV's own folder)."""
    table = csv_file(data)
    if table is None:
        if Path(data).suffix.lower() == ".csv":
            there = os.path.lexists(data)
            raise DataError(f"{data} {'is not a readable CSV file' if there else 'does not exist'}")
        if task:
            raise DataError(f"--task {task} needs a labels CSV: {data} is an image folder")
        if image_root:
            raise DataError(f"--image-root goes with a labels CSV: {data} is an image folder")
        return scan_folder(data, verify, val_dir, callbacks, cancel)
    if val_dir:
        raise DataError("a separate validation folder does not go with a labels CSV")
    if image_root and not os.path.isdir(image_root):
        raise DataError(f"the image root {image_root} is not a folder")
    return scan_csv(table, verify, Work.of(callbacks, cancel), task, image_root)


@dataclass
class _Row:
    line: int
    path: str
    values: list[list[str]]  # per task, its labels


def scan_csv(table: Path, verify: bool, task: Work, column: str | None = None,
             image_root: str | os.PathLike[str] | None = None) -> FolderScan:
    """Read `table`, check every row and its file, and build the tasks."""
    header, records = _read(table)
    names = _columns(table, header, column)
    problems: list[Problem] = []
    base = os.path.abspath(image_root or table.parent)
    rows = _rows(table, base, header, names, records, problems, bool(image_root))
    found = [(r.path, ";".join(r.values[0])) for r in rows]
    before = len(problems)
    digests = verify_files(found, verify, problems, task, 4)
    lines = {r.path: r.line for r in rows}
    for i in range(before, len(problems)):
        p = problems[i]
        if p.path in lines:
            problems[i] = Problem(p.path, f"line {lines[p.path]}: {p.reason}", p.severity)
    usable = [(r, d) for r, d in zip(rows, digests, strict=True) if d is not None]
    tasks = _tasks(names, [r for r, _ in usable])
    samples = [_sample(r, d, tasks) for r, d in usable]
    scan = FolderScan(str(table), list(tasks[0].classes) if tasks else [], samples, [],
                      problems, "csv")
    scan.tasks = tasks
    _report_tasks(scan, [r for r, _ in usable])
    return scan


def _read(table: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with open(table, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            records = [(reader.line_num, row) for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{table} cannot be read as a CSV file: {exc}") from None
    records = [(n, row) for n, row in records if any(cell.strip() for cell in row)]
    if not records:
        raise DataError(f"{table} is empty: it needs a header row, then one row per image")
    header = records[0][1]
    return [c.strip() for c in header], records[1:]


def _columns(table: Path, header: list[str], column: str | None) -> list[str]:
    """The label columns to use, checked: named, not repeated, and `column` among them."""
    labels = header[1:]
    if not labels:
        raise DataError(f"{table}, line 1: the header names no label column (expected: the "
                        "path column, then one column per task)")
    for i, name in enumerate(labels, start=2):
        if not name:
            raise DataError(f"{table}, line 1: column {i} has no name")
    repeated = sorted(n for n, c in Counter(labels).items() if c > 1)
    if repeated:
        raise DataError(f"{table}, line 1: column {repeated[0]!r} appears twice")
    if column is None:
        return labels
    if column not in labels:
        raise DataError(f"{table}, line 1: unknown column {column!r}; the label columns are "
                        f"{', '.join(labels)}")
    return [column]


# one problem per row up to this many rows with the same cause; beyond it, one for them all
SAME_CAUSE_ROWS = 3


def _rows(table: Path, base: str, header: list[str], names: list[str],
          records: list[tuple[int, list[str]]], problems: list[Problem],
          rooted: bool) -> list[_Row]:
    where = [header.index(n) for n in names]
    rows: list[_Row] = []
    seen: dict[str, int] = {}
    bad: dict[str, list[tuple[int, str, str]]] = {}  # cause -> (line, what, path)
    for line, cells in records:
        cause, path = _row_problem(base, cells, len(header), names, where)
        if cause is None and path in seen:
            cause = f"the same file as line {seen[path]}: left out"
        if cause is not None:
            cause, _, what = cause.partition("\0")
            bad.setdefault(cause, []).append((line, what, path or str(table)))
            continue
        seen[path] = line
        values = [_split(cells[i]) for i in where]
        rows.append(_Row(line, path, values))
    for cause, hits in bad.items():
        problems += _cause_problems(cause, hits, base, rooted)
    return rows


def _cause_problems(cause: str, hits: list[tuple[int, str, str]], base: str,
                    rooted: bool) -> list[Problem]:
    """The rows with one cause: a problem each, or one naming the first lines."""
    hint = ""
    if cause == "file not found":
        where = "the image root" if rooted else "the CSV's folder"
        hint = (f" (relative paths are read from {where}, {base}; --image-root DIR, or the "
                "Data page's image folder, reads them from another folder)")
    if len(hits) <= SAME_CAUSE_ROWS:
        return [Problem(path, f"line {line}: {cause}{': ' + what if what else ''}"
                        f"{hint if i == 0 else ''}")
                for i, (line, what, path) in enumerate(hits)]
    lines = ", ".join(str(line) for line, _, _ in hits[:SAME_CAUSE_ROWS])
    first = hits[0][1]
    return [Problem(hits[0][2], f"lines {lines} and {len(hits) - SAME_CAUSE_ROWS} more rows "
                    f"({len(hits)} in all): {cause}{f' (first: {first})' if first else ''}"
                    f"{hint}")]


def _row_problem(base: str, cells: list[str], width: int, names: list[str],
                 where: list[int]) -> tuple[str | None, str]:
    """Why a row cannot be used (None: it can), and the file it names. A reason that names
    the row's own file gives it after a NUL, so rows with the same cause can be counted."""
    given = cells[0].strip() if cells else ""
    if not given:
        return "no file path", ""
    path = os.path.normpath(os.path.join(base, os.path.expanduser(given)))
    if len(cells) > width:
        return (f"{len(cells)} values for {width} columns: the extra ones belong to no "
                "column (unknown column)"), path
    for name, i in zip(names, where, strict=True):
        if i >= len(cells) or not _split(cells[i]):
            return f"empty label in column {name!r}", path
    if not os.path.lexists(path):
        return f"file not found\0{given}", path
    if not is_supported(path):
        return unsupported_reason(Path(path)), path
    return None, path


def _split(value: str) -> list[str]:
    parts = (p.strip() for p in SEPARATORS.split(value))
    return list(dict.fromkeys(p for p in parts if p))


def _tasks(names: list[str], rows: list[_Row]) -> list[LabelTask]:
    tasks = []
    for i, name in enumerate(names):
        multi = any(len(r.values[i]) > 1 for r in rows)
        classes = sorted({v for r in rows for v in r.values[i]})
        tasks.append(LabelTask(name, tuple(classes), multi))
    return tasks


def _sample(row: _Row, digest: str, tasks: list[LabelTask]) -> Sample:
    first = tasks[0].classes.index(row.values[0][0])
    targets = encode(tasks, row.values) if needs_targets(tasks) else ()
    return Sample(row.path, first, digest, targets)


def encode(tasks: Sequence[LabelTask], values: Sequence[Sequence[str]]) -> tuple[float, ...]:
    """The target columns of one image whose labels per task are `values`."""
    out: list[float] = []
    for t, labels in zip(tasks, values, strict=True):
        if t.multi_label:
            out += [1.0 if c in labels else 0.0 for c in t.classes]
        else:
            out.append(float(t.classes.index(labels[0])))
    return tuple(out)


def decode(tasks: Sequence[LabelTask], targets: Sequence[float]) -> list[list[str]]:
    """Each task's labels from an image's target columns (`encode` undone)."""
    out, start = [], 0
    for t in tasks:
        part = targets[start : start + t.width]
        start += t.width
        if t.multi_label:
            out.append([c for c, v in zip(t.classes, part, strict=True) if v > 0.5])
        else:
            out.append([t.classes[int(part[0])]])
    return out


def sample_labels(tasks: Sequence[LabelTask], sample: Sample) -> list[list[str]]:
    """Each task's labels of `sample` (a plain sample: its `label` in the one task)."""
    if sample.targets:
        return decode(tasks, sample.targets)
    return [[tasks[0].classes[sample.label]]]


def task_counts(scan: FolderScan) -> list[list[int]]:
    """Per task, the images of each class (a multi-label image counts for each of its)."""
    tasks = scan.tasks
    if not tasks:
        return []
    counts = [Counter[str]() for _ in tasks]
    for sample in scan.samples:
        for counter, labels in zip(counts, sample_labels(tasks, sample), strict=True):
            counter.update(labels)
    return [[c[name] for name in t.classes] for c, t in zip(counts, tasks, strict=True)]


def _report_tasks(scan: FolderScan, rows: list[_Row]) -> None:
    """Problems of the tasks as a whole: too few classes, too few images of a class."""
    if not scan.samples:  # one message, the same from every tool (`untrainable_reason`)
        scan.problems.append(Problem(scan.root, NO_ROWS))  # (its causes are listed above)
        return
    for t, counts in zip(scan.tasks, task_counts(scan), strict=True):
        if len(t.classes) < 2 and not t.multi_label:
            scan.problems.append(Problem(scan.root, f"column {t.name!r} has "
                                         f"{'no' if not t.classes else 'a single'} class with "
                                         "usable images: a classifier needs at least two"))
        for name, n in zip(t.classes, counts, strict=True):
            if n < 2:
                first = next((r.line for r in rows
                              if name in r.values[scan.tasks.index(t)]), 0)
                scan.problems.append(Problem(
                    scan.root, f"line {first}: class {name!r} of column {t.name!r} has a "
                               "single image: too few to validate", "warning"))
        nonzero = [c for c in counts if c]
        if len(nonzero) >= 2 and max(nonzero) >= 5 * min(nonzero):
            scan.problems.append(Problem(scan.root, f"column {t.name!r}: classes are imbalanced:"
                                         f" {max(nonzero)} vs {min(nonzero)} images",
                                         "warning"))


def remap(sample: Sample, known: Sequence[LabelTask], tasks: Sequence[LabelTask]
          ) -> Sample | None:
    """`sample`, labelled in `known`'s tasks, relabelled in `tasks` (a run's), matched by
    column name and class name; None when a label is one the run does not know."""
    by_name = dict(zip((t.name for t in known), sample_labels(known, sample), strict=True))
    values = []
    for t in tasks:
        labels = by_name.get(t.name)
        if labels is None or any(v not in t.classes for v in labels):
            return None
        values.append(labels)
    first = tasks[0].classes.index(values[0][0])
    return Sample(sample.path, first, sample.digest,
                  encode(tasks, values) if needs_targets(tasks) else ())


def task_weights(text: str, names: Sequence[str]) -> list[float]:
    """The loss weight of each task in `names` from "NAME=W,NAME=W" (a task not named: 1)."""
    weights = dict.fromkeys(names, 1.0)
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.rpartition("=")
        name = name.strip()
        try:
            weight = float(value) if sep else float("nan")
        except ValueError:
            weight = float("nan")
        if not weight >= 0:
            raise ConfigError(f"task weights: {part!r} is not NAME=W with W a number of at "
                              "least 0", field="task_weights")
        if name not in weights:
            raise ConfigError(f"task weights: no task is named {name!r} (the tasks are "
                              f"{', '.join(names)})", field="task_weights")
        weights[name] = weight
    return [weights[n] for n in names]


def require_tasks(tasks: list[LabelTask]) -> None:
    """Refuse a labels CSV's further columns that cannot train a classifier."""
    for t in tasks[1:]:
        if len(t.classes) < 2 and not t.multi_label:
            raise DataError(f"column {t.name!r} has fewer than two classes with usable images: "
                            "a classifier needs at least two (--task picks the columns to "
                            "train)")


def untrainable(scan: FolderScan) -> str | None:
    """Why `train` would refuse the scanned data (no classes, no usable image, a single
    class), or None when it can train."""
    try:
        require_trainable(scan)
        require_tasks(scan.tasks)
    except DataError as exc:
        return str(exc)
    return None
