"""Image folders at several distances from ImageNet, made offline, for the transfer benchmark.

* photos: random square crops of scikit-image's sample photographs (CC0: brick, grass,
  gravel, coffee, the cat, the astronaut, the rocket, ...), one class per photograph, as a
  patch / texture classification set. Training crops come from the left half of each photo,
  validation crops from the next fifth, test crops from the last 30 %: no validation or test
  pixel was ever seen in training.
* grayscale: the same kind of crops (other draws), in gray levels with a random gamma.
* sketches: line drawings made from such crops (Canny edges, black on white).
* shapes: generated shapes of any colour on busy backgrounds of coloured blocks; only the
  outline says the class.

Each set is ROOT/<set>/fit/{train,val}/<class>/*.png (the run's own split) and
ROOT/<set>/test/<class>/*.png (held out, scored once per run).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagegen import SHAPES, blocks_background, draw_shape

PHOTOS = ("brick", "grass", "gravel", "coffee", "chelsea", "astronaut", "rocket", "camera",
          "coins", "immunohistochemistry")
SETS = ("photos", "grayscale", "sketches", "shapes")
REGIONS = {"fit/train": (0.0, 0.5), "fit/val": (0.5, 0.7), "test": (0.7, 1.0)}  # of the width


def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3])


def _crop(image: np.ndarray, part: str, rng: random.Random) -> np.ndarray:
    height, width = image.shape[:2]
    left, right = (int(width * share) for share in REGIONS[part])
    side = rng.randint(48, min(128, right - left, height))
    x = rng.randint(left, right - side)
    y = rng.randint(0, height - side)
    return image[y : y + side, x : x + side]


def _gray(patch: Image.Image, rng: random.Random) -> Image.Image:
    gamma = rng.uniform(0.6, 1.6)
    return patch.convert("L").point(lambda v: round(255 * (v / 255) ** gamma)).convert("RGB")


def _sketch(patch: Image.Image, rng: random.Random) -> Image.Image:
    from skimage.feature import canny

    gray = np.asarray(patch.convert("L"), dtype=np.float32) / 255
    edges = canny(gray, sigma=rng.uniform(1.5, 2.5))
    lines = Image.fromarray(np.where(edges, 0, 255).astype(np.uint8))
    return lines.filter(ImageFilter.MinFilter(3)).convert("RGB")  # thicker strokes


STYLES: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "photos": lambda patch, rng: patch,
    "grayscale": _gray,
    "sketches": _sketch,
}


def _photo_set(folder: Path, style: str, counts: dict[str, int], size: int, seed: int) -> None:
    for cls, name in enumerate(PHOTOS):
        image = _photo(name)
        for part, count in counts.items():
            rng = random.Random(f"{seed}-{style}-{name}-{part}")
            target = folder / part / name
            target.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                crop = _crop(image, part, rng)
                patch = Image.fromarray(crop).resize((size, size), Image.Resampling.BICUBIC)
                STYLES[style](patch, rng).save(target / f"{cls}_{i:04d}.png")


def shape(shape_name: str, size: int, rng: random.Random) -> Image.Image:
    """A small outline of any colour on coloured blocks, partly hidden by noise."""
    image = blocks_background(size, rng)
    draw = ImageDraw.Draw(image)
    r = rng.uniform(0.12, 0.3) * size
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    colour = tuple(rng.randint(0, 255) for _ in range(3))
    draw_shape(draw, shape_name, cx, cy, r, colour)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 40, (size, size, 3))
    pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels)


def _shape_set(folder: Path, counts: dict[str, int], size: int, seed: int) -> None:
    for part, count in counts.items():
        rng = random.Random(f"{seed}-shapes-{part}")
        for name in SHAPES:
            target = folder / part / name
            target.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                shape(name, size, rng).save(target / f"{name}_{i:04d}.png")


def make_set(root: Path, name: str, train: int, val: int, test: int, size: int = 96,
             seed: int = 0) -> Path:
    """The folder of set `name` with `train`, `val` and `test` images per class (kept if
    present)."""
    folder = root / f"{name}_{train}_{val}_{test}_{size}_{seed}"
    if (folder / "test").is_dir():
        return folder
    tmp = folder.with_name(folder.name + ".part")
    counts = {"fit/train": train, "fit/val": val, "test": test}
    if name == "shapes":  # four classes instead of ten: more images each, the same total
        _shape_set(tmp, {k: v * 5 // 2 for k, v in counts.items()}, size, seed)
    else:
        _photo_set(tmp, name, counts, size, seed)
    tmp.rename(folder)
    return folder
