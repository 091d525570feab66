"""Real image sets for the benchmarks, materialised as class folders (or a labels CSV).

- `fashion`: Fashion-MNIST, real clothing photographs (28 x 28 grey, 10 classes), from Debian's
  `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist, idx gz files).
- `digits`: scikit-learn's handwritten digits (8 x 8 grey, 10 classes, 1,797 images).
- `skimage_photos()`: scikit-image's sample photographs (the `bench` extra), for the
  near-duplicate benchmark.

Images are upscaled (bicubic) to the size asked for and saved as RGB PNGs, so the backbones
see them as they see any photograph. The images picked depend only on the seed:

    folder = materialise("fashion", per_class=[100] * 10, size=112, seed=0)
    table = as_csv(folder)          # FOLDER.csv beside it: ../paths, one `label` column
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

FASHION_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
FASHION_CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle-boot")
SETS = ("fashion", "digits")


def _idx(path: Path) -> np.ndarray:
    """An idx file (the MNIST format): a magic number giving the rank, the sizes, the bytes."""
    with gzip.open(path, "rb") as handle:
        data = handle.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(name: str, split: str = "train") -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(N x H x W uint8 images, N labels, class names) of set `name`. `split`: train or test
    for Fashion-MNIST; the digits have one set (`split` picks no part of it)."""
    if name == "fashion":
        prefix = "train" if split == "train" else "t10k"
        images = _idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz")
        labels = _idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz").astype(int)
        return images, labels, FASHION_CLASSES
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = np.clip(digits.images * 16, 0, 255).astype(np.uint8)  # 0..16 -> 0..255
        return images, digits.target.astype(int), tuple(str(d) for d in range(10))
    raise ValueError(f"unknown set {name!r}: one of {', '.join(SETS)}")


def pick(labels: np.ndarray, per_class: list[int], seed: int,
         avoid: np.ndarray | None = None) -> np.ndarray:
    """Indices of `per_class[c]` images of each class c, drawn with `seed`; `avoid`: indices
    never drawn (another part's images)."""
    rng = np.random.default_rng(seed)
    taken = set() if avoid is None else set(avoid.tolist())
    chosen = []
    for c, n in enumerate(per_class):
        pool = np.array([i for i in np.flatnonzero(labels == c) if i not in taken])
        if len(pool) < n:
            raise ValueError(f"class {c} has {len(pool)} images, {n} asked for")
        chosen.append(rng.choice(pool, n, replace=False))
    return np.sort(np.concatenate(chosen))


def to_rgb(image: np.ndarray, size: int) -> Image.Image:
    """A grey image upscaled to `size` x `size` (bicubic), as RGB."""
    return Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC).convert("RGB")


def data_root() -> Path:
    folder = os.environ.get("TRANSFER_GUI_BENCH_DIR")
    root = Path(folder) if folder else Path("/tmp") / "transfer_gui_bench"
    root.mkdir(parents=True, exist_ok=True)
    return root


def materialise(name: str, per_class: list[int], size: int = 112, seed: int = 0,
                split: str = "train", transform: Callable[[Image.Image], Image.Image] | None
                = None, tag: str = "", avoid: np.ndarray | None = None,
                folder: Path | None = None) -> Path:
    """A class-folder set of `per_class[c]` images of each class of set `name`, at `size`
    px, drawn with `seed`; `transform` changes each image (a domain shift, named by `tag`).
    Kept between runs under the benchmarks' data folder."""
    counts = "-".join(str(n) for n in per_class) if len(set(per_class)) > 1 else \
        f"{per_class[0]}x{len(per_class)}"
    folder = folder or data_root() / f"{name}_{split}_{counts}_{size}px_s{seed}{tag}"
    done = folder / ".complete"
    if done.exists():
        return folder
    images, labels, classes = load(name, split)
    for i in pick(labels, per_class, seed, avoid):
        picture = to_rgb(images[i], size)
        if transform is not None:
            picture = transform(picture)
        target = folder / classes[labels[i]] / f"{name}_{split}_{i:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        picture.save(target)
    done.touch()
    return folder


def as_csv(folder: Path, table: Path | None = None) -> Path:
    """The CSV variant of a class-folder set: FOLDER.csv beside the folder (or `table`), one
    row per image with its path relative to the CSV (`../` where it leads out) and `label`."""
    table = table or folder.with_suffix(".csv")
    rows = [[os.path.relpath(p, table.parent), p.parent.name]
            for p in sorted(folder.glob("*/*.png"))]
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        writer.writerows(rows)
    return table


def skimage_photos(size: int = 112) -> list[tuple[str, Image.Image]]:
    """scikit-image's sample photographs (colour and grey) as `size` x `size` RGB images."""
    from skimage import data

    names = ("astronaut", "coffee", "chelsea", "rocket", "camera", "moon", "coins", "page",
             "horse", "clock", "text", "grass", "gravel", "brick", "rocket", "hubble_deep_field",
             "immunohistochemistry", "motorcycle_left", "retina", "cat", "colorwheel",
             "logo", "microaneurysms", "eagle")
    out = []
    for n in dict.fromkeys(names):
        try:
            array = getattr(data, n)()
        except Exception:  # noqa: BLE001 - a sample needing a download (pooch) is left out
            continue
        if isinstance(array, tuple):
            array = array[0]
        array = np.asarray(array)
        if array.dtype != np.uint8:
            array = (255 * (array.astype(float) / max(float(array.max()), 1e-9))).astype(np.uint8)
        image = Image.fromarray(array[..., :3] if array.ndim == 3 else array).convert("RGB")
        out.append((n, image.resize((size, size), Image.Resampling.BICUBIC)))
    return out
