"""A folder of real photographs for the export benchmark: Debian's Fashion-MNIST (package
dataset-fashion-mnist), the first PER_CLASS training images of each of its 10 classes,
upscaled from 28 to 112 px (bicubic) and saved as RGB PNGs, one sub-folder per class.

    python tests/bench/fashion_folder.py OUT PER_CLASS
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle_boot")


def read(name: str, offset: int) -> np.ndarray:
    with gzip.open(next(SOURCE.glob(name + "*"))) as handle:
        return np.frombuffer(handle.read(), np.uint8, offset=offset)


def main() -> None:
    out, per_class = Path(sys.argv[1]), int(sys.argv[2])
    images = read("train-images-idx3-ubyte", 16).reshape(-1, 28, 28)
    labels = read("train-labels-idx1-ubyte", 8)
    for index, name in enumerate(CLASSES):
        (out / name).mkdir(parents=True, exist_ok=True)
        for i, j in enumerate(np.flatnonzero(labels == index)[:per_class]):
            image = Image.fromarray(images[j]).convert("RGB")
            image.resize((112, 112), Image.Resampling.BICUBIC).save(out / name / f"{i:04d}.png")


if __name__ == "__main__":
    main()
