"""Photo-like JPEG folders for the benchmarks: smooth colour fields, texture at several scales,
sensor-like noise, and a class-specific coloured shape, saved at camera-like JPEG quality, so
decoding costs what it costs for real photographs of the same size."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imagegen import COLOURS, SHAPES, draw_shape


def _field(rng: random.Random, size: tuple[int, int], cells: tuple[int, int]) -> Image.Image:
    """A random colour field of `cells`, smoothly upscaled to `size`."""
    small = Image.frombytes("RGB", cells, rng.randbytes(3 * cells[0] * cells[1]))
    return small.resize(size, Image.Resampling.BICUBIC)


def photo(shape: str, size: tuple[int, int], rng: random.Random) -> Image.Image:
    width, height = size
    image = _field(rng, size, (rng.randint(3, 6), rng.randint(3, 5)))
    texture = _field(rng, size, (max(2, width // 12), max(2, height // 12)))
    image = Image.blend(image, texture, 0.25)
    grain = Image.effect_noise(size, rng.uniform(8, 16)).convert("RGB")
    image = ImageChops.add(image, grain, scale=1.0, offset=-128)
    draw = ImageDraw.Draw(image)
    r = rng.uniform(0.15, 0.3) * min(size)
    cx, cy = rng.uniform(r, width - r), rng.uniform(r, height - r)
    colour = tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in COLOURS[shape])
    draw_shape(draw, shape, cx, cy, r, colour)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def make_photo_folder(root: Path, per_class: int, size: tuple[int, int] = (1600, 1200),
                      classes: tuple[str, ...] = SHAPES, seed: int = 0,
                      quality: int = 92) -> Path:
    """ROOT/<shape>/<n>.jpg; files already there are kept (generation is the slow part)."""
    rng = random.Random(seed)
    for shape in classes:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            target = folder / f"{shape}_{i:04d}.jpg"
            state = rng.random()  # one draw per image keeps later images stable
            if not target.exists():
                photo(shape, size, random.Random(state)).save(target, quality=quality)
    return root
