"""Generated data for the "Know your data" tests: shapes with labels flipped on purpose, and
photo crops with resized and re-encoded copies."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image

from imagegen import make_dataset

DATA = Path(__file__).parent / "data"
CLASSES = ("circle", "square", "triangle", "cross")


def flipped_dataset(root: Path, per_class: int = 40, share: float = 0.05,
                    seed: int = 0) -> set[str]:
    """Shapes in four classes, then `share` of the files moved into another class's folder
    (named flip_*); returns their new paths."""
    make_dataset(root, classes=CLASSES, per_class=per_class, size=32, seed=seed)
    return flip_labels(root, share, seed + 1)


def flip_labels(root: Path, share: float, seed: int) -> set[str]:
    """Move `share` of the files of the class folders of `root` into another class's folder
    (renamed flip_*); returns their new paths."""
    files = sorted(p for p in root.glob("*/*") if p.is_file())
    classes = sorted({p.parent.name for p in files})
    rng = random.Random(seed)
    moved = set()
    for path in rng.sample(files, round(share * len(files))):
        other = rng.choice([c for c in classes if c != path.parent.name])
        target = root / other / f"flip_{path.name}"
        path.rename(target)
        moved.add(str(target))
    return moved


def crops_with_copies(root: Path, per_photo: int = 8, copies: int = 3, size: int = 64,
                      seed: int = 0) -> dict[str, str]:
    """Random square crops of the two test photos (one class each); the first `copies` of each
    saved again, once smaller as PNG and once re-encoded as JPEG. Returns {copy: original}."""
    rng = random.Random(seed)
    pairs = {}
    for name in ("chelsea", "coffee"):
        photo = Image.open(DATA / f"{name}.jpg").convert("RGB")
        width, height = photo.size
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_photo):
            side = rng.randint(min(width, height) // 4, min(width, height) // 2)
            x, y = rng.randint(0, width - side), rng.randint(0, height - side)
            crop = photo.crop((x, y, x + side, y + side)).resize((size, size))
            original = root / name / f"{name}_{i:02d}.png"
            crop.save(original)
            if i < copies:
                copy = root / name / (f"small_{i:02d}.png" if i % 2 else f"jpeg_{i:02d}.jpg")
                smaller = crop.resize((size * 3 // 4, size * 3 // 4)) if i % 2 else crop
                smaller.save(copy, quality=80)
                pairs[str(copy)] = str(original)
    return pairs
