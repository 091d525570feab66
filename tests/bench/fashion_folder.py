"""A folder of real photographs for the export benchmark: Debian's Fashion-MNIST (package
dataset-fashion-mnist), the first PER_CLASS training images of each of its 10 classes,
upscaled from 28 to 112 px (bicubic) and saved as RGB PNGs, one sub-folder per class.

    python tests/bench/fashion_folder.py OUT PER_CLASS
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realsets

CLASSES = ("T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle_boot")




def main() -> None:
    out, per_class = Path(sys.argv[1]), int(sys.argv[2])
    images, labels, _ = realsets.load("fashion", "train")
    for index, name in enumerate(CLASSES):
        (out / name).mkdir(parents=True, exist_ok=True)
        for i, j in enumerate(np.flatnonzero(labels == index)[:per_class]):
            image = Image.fromarray(images[j]).convert("RGB")
            image.resize((112, 112), Image.Resampling.BICUBIC).save(out / name / f"{i:04d}.png")


if __name__ == "__main__":
    main()
