"""Whether scanned data can train a classifier, in the words every tool uses (train,
check-data, evaluate, inspect, the Data page), and the scan without its empty classes."""

from __future__ import annotations

import dataclasses

from .scan import NO_CLASSES, NO_ROWS, DataError, FolderScan, Sample


def csv_no_rows(scan: FolderScan) -> str:
    """A labels CSV of which no row is usable: that, with the first cause."""
    causes = [p.reason for p in scan.problems
              if p.severity == "error" and not p.reason.startswith(NO_ROWS)]
    return f"{NO_ROWS}{f'; {causes[0]}' if causes else ''}"


def untrainable_reason(scan: FolderScan) -> str | None:
    """Why the data cannot train a classifier (None: it can), in the words every tool uses.
    A labels CSV of which no row is usable says so with the first cause, never "no class
    folders"."""
    if scan.layout == "csv" and not scan.samples:
        return f"{scan.root}: {csv_no_rows(scan)}"
    if not scan.classes:
        return f"{scan.root} has {NO_CLASSES}"
    if not scan.samples:
        return f"{scan.root} has no usable images"
    counts = scan.counts()
    used = [name for name, c in zip(scan.classes, counts, strict=True) if c > 0]
    if len(used) < 2:
        only = used[0] if used else scan.classes[0]
        return (f"{scan.root} has only one class with images ({only!r}): a classifier needs "
                "at least two")
    return None


def require_trainable(scan: FolderScan) -> None:
    """Raise `DataError` with a clear message when the folder cannot train a classifier."""
    reason = untrainable_reason(scan)
    if reason is not None:
        raise DataError(reason)


def without_empty_classes(scan: FolderScan) -> tuple[FolderScan, list[str]]:
    """`scan` without the classes that have no usable image (a head cannot learn them), and
    the names of those left out."""
    counts = scan.counts()
    keep = [i for i, c in enumerate(counts) if c > 0]
    dropped = [name for name, c in zip(scan.classes, counts, strict=True) if c == 0]
    if not dropped:
        return scan, []
    index = {old: new for new, old in enumerate(keep)}

    def relabel(samples: list[Sample]) -> list[Sample]:
        return [Sample(s.path, index[s.label], targets=s.targets) for s in samples]

    kept = dataclasses.replace(scan, classes=[scan.classes[i] for i in keep],
                               train=relabel(scan.train), val=relabel(scan.val),
                               problems=list(scan.problems))
    return kept, dropped
