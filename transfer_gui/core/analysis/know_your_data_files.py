"""What `inspect` writes: the map as a PNG, the review list and the near-duplicate pairs as CSV,
and the whole as a JSON-ready dictionary."""

from __future__ import annotations

import csv
import hashlib
import os
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .. import atomic
from .know_your_data import Inspection

# distinct colours for the classes (cycled beyond twelve), shared with the window's map
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
           (57, 59, 121), (173, 73, 74))
ISSUE_COLUMNS = ("rank", "file", "given", "suggested", "confidence", "given_probability",
                 "split", "action")
SAME_AS = "same content as "  # the scan's words for a copy within one class
DUPLICATE_COLUMNS = ("kind", "similarity", "first", "second", "first_class", "second_class",
                     "across_classes", "across_split")


def class_colour(label: int) -> tuple[int, int, int]:
    return PALETTE[label % len(PALETTE)]


def issue_rows(result: Inspection, flagged_only: bool = True) -> list[dict[str, Any]]:
    """The review list: rank, file, given and suggested class, the probe's confidence. The
    `action` column is left empty for the user ("exclude", or a class name to relabel as)."""
    data, rows = result.data, []
    issues = result.flagged if flagged_only else result.issues
    for rank, issue in enumerate(issues, start=1):
        rows.append({"rank": rank, "file": data.name(issue.index),
                     "given": data.classes[issue.given],
                     "suggested": data.classes[issue.suggested],
                     "confidence": round(issue.confidence, 4),
                     "given_probability": round(issue.given_probability, 4),
                     "split": data.split[issue.index], "action": ""})
    return rows


def duplicate_rows(result: Inspection) -> list[dict[str, Any]]:
    """Near-duplicate pairs (feature cosine) and the scan's exact copies, each pair once, with
    what makes each worth a look: two classes (a label error), or two sides of the split
    (leakage). A pair of identical files is listed as exact, not also as near."""
    data, rows = result.data, []
    groups = exact_groups(result)
    group_of = {path: i for i, group in enumerate(groups) for path in group}
    index_of = {os.path.normpath(s.path): i for i, s in enumerate(data.samples)}
    for pair in result.duplicates:
        a, b = pair.first, pair.second
        same = group_of.get(_norm(data.samples[a].path), -1)
        if same >= 0 and same == group_of.get(_norm(data.samples[b].path)):
            continue
        rows.append(_pair_row(data, "near", round(pair.similarity, 4), a, b))
    for group in groups:
        first = index_of.get(group[0])
        for other in group[1:]:
            second = index_of.get(other)
            if first is not None and second is not None:
                rows.append(_pair_row(data, "exact", 1.0, first, second))
    return rows


def _pair_row(data: Any, kind: str, similarity: float, a: int, b: int) -> dict[str, Any]:
    return {"kind": kind, "similarity": similarity,
            "first": data.name(a), "second": data.name(b),
            "first_class": data.classes[data.samples[a].label],
            "second_class": data.classes[data.samples[b].label],
            "across_classes": data.samples[a].label != data.samples[b].label,
            "across_split": data.split[a] != data.split[b]}


def _norm(path: str) -> str:
    return os.path.normpath(path)


def exact_groups(result: Inspection) -> list[list[str]]:
    """The scan's byte-identical copies as groups of files (by content, the first in sorted
    order first): the scan reports a copy per file, or one per extra copy."""
    paths = set()
    for problem in result.exact_duplicates():
        paths.add(_norm(problem.path))
        if problem.reason.startswith(SAME_AS):
            paths.add(_norm(problem.reason[len(SAME_AS):]))
    by_content: dict[str, list[str]] = {}
    for path in sorted(paths):
        by_content.setdefault(_content(path), []).append(path)
    return [group for group in by_content.values() if len(group) > 1]


def _content(path: str) -> str:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()
    except OSError:
        return path  # gone since the scan: a group of its own


def write_csv(rows: list[dict[str, Any]], path: str | os.PathLike[str],
              columns: tuple[str, ...] | None = None) -> None:
    names = list(columns or (rows[0].keys() if rows else ()))
    with atomic.atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)


def map_image(coords: np.ndarray, labels: np.ndarray, classes: list[str],
              size: int = 900) -> Image.Image:
    """The map as a picture: one dot per image in its class's colour, and a legend."""
    image = Image.new("RGB", (size + 180, size), "white")
    draw = ImageDraw.Draw(image)
    if len(coords):
        low, high = coords.min(axis=0), coords.max(axis=0)
        span = np.maximum(high - low, 1e-9)
        xy = 20 + (coords - low) / span * (size - 40)
        radius = 4 if len(coords) < 2000 else 2
        for (x, y), label in zip(xy.tolist(), labels.tolist(), strict=True):
            draw.ellipse([x - radius, size - y - radius, x + radius, size - y + radius],
                         fill=class_colour(int(label)))
    for i, name in enumerate(classes[:40]):
        y = 20 + 22 * i
        draw.rectangle([size + 10, y, size + 24, y + 14], fill=class_colour(i))
        draw.text((size + 30, y), name[:20], fill="black")
    return image


def write_map(result: Inspection, path: str | os.PathLike[str]) -> None:
    image = map_image(result.coords, result.data.labels, result.data.classes)
    with atomic.atomic_path(path) as tmp:
        image.save(tmp, format="PNG")


def inspection_summary(result: Inspection) -> dict[str, Any]:
    """Everything `inspect --json` prints."""
    data = result.data
    return {"root": data.root, "backbone": data.backbone, "images": len(data.samples),
            "classes": data.classes, "separability": result.separability,
            "label_issues": issue_rows(result), "near_duplicates": duplicate_rows(result),
            "seconds": {k: round(v, 2) for k, v in result.seconds.items()},
            "map": [{"file": data.name(i), "x": round(float(x), 4), "y": round(float(y), 4)}
                    for i, (x, y) in enumerate(result.coords.tolist())]}


def inspection_files(result: Inspection, map_path: str | None = None, issues: str | None = None,
                duplicates: str | None = None) -> None:
    """Write the files asked for (a None path: not written)."""
    if map_path:
        write_map(result, map_path)
    if issues:
        write_csv(issue_rows(result), issues, ISSUE_COLUMNS)
    if duplicates:
        write_csv(duplicate_rows(result), duplicates, DUPLICATE_COLUMNS)
