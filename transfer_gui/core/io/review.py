"""The review of likely label errors, read back: which files to leave out of training and which
to relabel. It lives in the run settings (`DataConfig.exclude` and `.relabel`), so a project
file carries it, every run's saved configuration records it, and a resumed run keeps it.

`read_review` takes it from a project file, or from the CSV that `inspect --label-issues`
writes once its `action` column is filled in: `exclude`, or the class to relabel as.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from ..errors import UserError

EXCLUDE = "exclude"


class ReviewError(UserError, ValueError):
    """The review file cannot be read."""


def read_review(path: str | os.PathLike[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(excluded files, "file=class" relabels) from a project file or a review CSV."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        from .project import ProjectError, load_project

        try:
            data = load_project(path).config.data
        except ProjectError as exc:
            raise ReviewError(str(exc)) from None
        return tuple(data.exclude), tuple(data.relabel)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReviewError(f"cannot read the review {path}: {exc}") from None
    if rows and not {"file", "action"} <= set(rows[0]):
        raise ReviewError(f"{path} needs the columns 'file' and 'action' (as `inspect "
                          "--label-issues` writes them)")
    exclude, relabel = [], []
    for row in rows:
        name, action = (row.get("file") or "").strip(), (row.get("action") or "").strip()
        if not name or not action:
            continue
        if action.lower() == EXCLUDE:
            exclude.append(name)
        else:
            relabel.append(f"{name}={action}")
    return tuple(exclude), tuple(relabel)


def review_mark(exclude: tuple[str, ...], relabel: tuple[str, ...], name: str,
              action: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The review with `name` marked: `"exclude"`, a class to relabel as, or None (unmarked)."""
    exclude = tuple(e for e in exclude if e != name)
    relabel = tuple(r for r in relabel if r.rpartition("=")[0] != name)
    if action == EXCLUDE:
        exclude += (name,)
    elif action:
        relabel += (f"{name}={action}",)
    return exclude, relabel
