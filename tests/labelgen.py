"""Generated datasets labelled by a CSV: two tasks with a cue each, and multi-label tags."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

from imagegen import draw_shape

INKS = {"red": (220, 40, 40), "blue": (40, 90, 220), "green": (40, 170, 60)}
BACKDROPS = {"light": (225, 235), "dark": (20, 45)}


def _image(size: int, rng: random.Random, inks: list[str], backdrop: str) -> Image.Image:
    low, high = BACKDROPS[backdrop]
    image = Image.new("RGB", (size, size), tuple(rng.randint(low, high) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    for ink in inks:
        r = rng.uniform(0.28, 0.4) * size
        cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
        colour = tuple(max(0, min(255, c + rng.randint(-20, 20))) for c in INKS[ink])
        draw_shape(draw, rng.choice(("circle", "square")), cx, cy, r, colour)
    return image


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def two_task_set(root: Path, per_pair: int = 6, size: int = 48, seed: int = 0) -> Path:
    """ROOT/labels.csv with columns `ink` (red/blue: the shape's colour) and `backdrop`
    (light/dark: the background's brightness), drawn independently: each task can be learnt
    only from its own cue. Images in ROOT/images/."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for ink in ("red", "blue"):
        for backdrop in BACKDROPS:
            for i in range(per_pair):
                name = f"images/{ink}_{backdrop}_{i:02d}.png"
                _image(size, rng, [ink], backdrop).save(root / name)
                rows.append([name, ink, backdrop])
    rng.shuffle(rows)
    return write_csv(root / "labels.csv", ["file", "ink", "backdrop"], rows)


def tag_set(root: Path, count: int = 36, size: int = 48, seed: int = 0) -> Path:
    """ROOT/tags.csv: one column `tags` listing the inks drawn on each image (one to three
    shapes; red and green mostly come together), `;` or `|` separated."""
    rng = random.Random(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(count):
        inks = {rng.choice(list(INKS))}
        if "red" in inks and rng.random() < 0.7:
            inks.add("green")
        if rng.random() < 0.3:
            inks.add(rng.choice(list(INKS)))
        name = f"images/tags_{i:03d}.png"
        _image(size, rng, sorted(inks), "light").save(root / name)
        rows.append([name, (";" if i % 2 else "|").join(sorted(inks))])
    return write_csv(root / "tags.csv", ["path", "tags"], rows)
