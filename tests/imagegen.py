"""Tiny generated image datasets for the tests: coloured shapes on noisy backgrounds."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross")
COLOURS = {
    "circle": (220, 40, 40),
    "square": (40, 90, 220),
    "triangle": (40, 170, 60),
    "cross": (230, 190, 30),
}


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float,
               colour: tuple) -> None:
    """`shape` of radius `r` centred on (cx, cy)."""
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        w = r / 3
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)


def blocks_background(size: int, rng: random.Random) -> Image.Image:
    """A grid of 4x4 to 8x8 blocks of random colours (a busy, MNIST-M-like background)."""
    n = rng.choice([4, 6, 8])
    cells = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(n * n)]
    grid = Image.new("RGB", (n, n))
    grid.putdata(cells)
    return grid.resize((size, size), Image.Resampling.NEAREST)


def shape_image(shape: str, size: int, rng: random.Random, invert: bool = False,
                any_colour: bool = False, blocks: bool = False,
                scale: tuple[float, float] = (0.22, 0.38)) -> Image.Image:
    """One image of `shape` at a random place and scale (its radius a fraction `scale` of the
    size), on a random light background (with `blocks`, on blocks of random colours). With
    `any_colour`, the colour says nothing about the class (only the shape does)."""
    if blocks:
        image = blocks_background(size, rng)
    else:
        image = Image.new("RGB", (size, size), tuple(rng.randint(170, 250) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    r = rng.uniform(*scale) * size
    cx, cy = rng.uniform(r, size - r), rng.uniform(r, size - r)
    base = COLOURS[rng.choice(SHAPES)] if any_colour else COLOURS[shape]
    colour = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in base)
    draw_shape(draw, shape, cx, cy, r, colour)
    if invert:
        image = Image.eval(image, lambda v: 255 - v)
    return image


def make_dataset(
    root: Path,
    classes: tuple[str, ...] = SHAPES[:3],
    per_class: int = 12,
    size: int = 64,
    seed: int = 0,
    fmt: str = "png",
    invert: bool = False,
    any_colour: bool = False,
    blocks: bool = False,
    scale: tuple[float, float] = (0.22, 0.38),
) -> Path:
    """ROOT/<shape>/<n>.<fmt> for each shape in `classes`."""
    rng = random.Random(seed)
    for shape in classes:
        folder = root / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = shape_image(shape, size, rng, invert, any_colour, blocks, scale)
            image.save(folder / f"{shape}_{i:03d}.{fmt}")
    return root
