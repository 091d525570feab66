"""Sorting a labelled pool into class folders: first a preview of the moves, then the moves.

Nothing moves unless the user asks: `plan_sort` only says what would happen, `apply_sort`
does it and rewrites the labels file with the new paths (so training still finds every
image). A name already taken in the class folder gets a numbered suffix, never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath

from .labelpool import LabelPool
from .scan import DataError


@dataclass(frozen=True)
class Move:
    source: str  # relative to the pool's folder
    target: str


def _free_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    path = PurePosixPath(name)
    n = 1
    while (candidate := str(path.with_name(f"{path.stem}_{n}{path.suffix}"))) in taken:
        n += 1
    return candidate


def plan_sort(pool: LabelPool) -> list[Move]:
    """The moves that put every labelled image in `ROOT/<class>/` (images already in their
    class's folder stay); unlabelled images stay where they are."""
    taken = set(pool.files)
    moves = []
    for name in pool.labelled():
        label = pool.labels[name]
        if PurePosixPath(name).parent == PurePosixPath(label):
            continue
        target = _free_name(f"{label}/{PurePosixPath(name).name}", taken)
        taken.add(target)
        moves.append(Move(name, target))
    return moves


def apply_sort(pool: LabelPool, moves: list[Move]) -> int:
    """Carry out `moves` (from `plan_sort`); returns how many were done. On a failure, the
    moves done so far are kept and written to the labels file before the error is raised."""
    done: dict[str, str] = {}
    try:
        for move in moves:
            source, target = pool.root / move.source, pool.root / move.target
            if target.exists():
                raise DataError(f"{move.target} appeared since the preview: nothing was "
                                "overwritten")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(source, target)
            done[move.source] = move.target
    except OSError as exc:
        raise DataError(f"moving {move.source} to {move.target} failed: {exc.strerror}; "
                        f"{len(done)} images were moved and the labels file says so") from None
    finally:
        if done:
            pool.rename_files(done)
            pool.save()
    return len(done)
