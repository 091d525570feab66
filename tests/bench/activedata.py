"""Real images for the active-learning benchmark, as frozen EfficientNet-Lite0 features.

Fashion-MNIST (Debian's `dataset-fashion-mnist`: photographs of clothing, 28x28 grey, 10
classes) and scikit-learn's digits (8x8 grey, 10 classes), each upscaled to the backbone's
input size as RGB. The features are computed once and kept as `.npz` in the benchmark folder.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import realsets  # noqa: E402
from common import data_root  # noqa: E402

FASHION_POOL, FASHION_TEST = 3000, 1000




def _stratified(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    classes = np.unique(labels)
    picks = [rng.choice(np.flatnonzero(labels == c), n // len(classes), replace=False)
             for c in classes]
    return np.sort(np.concatenate(picks))


def fashion_images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pool images, pool labels, test images, test labels), uint8 N x H x W."""
    rng = np.random.default_rng(0)
    train_x, train_y, _ = realsets.load("fashion", "train")
    test_x, test_y, _ = realsets.load("fashion", "test")
    pool, test = _stratified(train_y, FASHION_POOL, rng), _stratified(test_y, FASHION_TEST, rng)
    return train_x[pool], train_y[pool], test_x[test], test_y[test]


def digits_images() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images * (255 / 16)).astype(np.uint8)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    test = order[:500]
    pool = order[500:]
    return x[pool], y[pool], x[test], y[test]


def _features(images: np.ndarray) -> np.ndarray:
    from transfer_gui.core.data.datasets import Preprocess
    from transfer_gui.core.models.backbones import get_spec
    from transfer_gui.core.models.weights import build_model

    spec = get_spec("efficientnet_lite0")
    pre = Preprocess.for_backbone(spec)
    model = build_model(spec, 10, True).eval()
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    out = []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), 64):
            x = torch.from_numpy(images[i: i + 64]).float().div(255).unsqueeze(1)
            x = F.interpolate(x, size=(pre.image_size,) * 2, mode="bilinear",
                              align_corners=False).expand(-1, 3, -1, -1)
            out.append(model.body((x - mean) / std).float().numpy())
            print(f"  features {i + len(x)}/{len(images)} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    return np.concatenate(out).astype(np.float32)


def load(name: str) -> dict[str, np.ndarray]:
    """pool_x, pool_y, test_x, test_y as features for "fashion" or "digits" (cached)."""
    path = data_root() / f"active_{name}_lite0.npz"
    if path.is_file():
        return dict(np.load(path))
    images = fashion_images() if name == "fashion" else digits_images()
    pool_x, pool_y, test_x, test_y = images
    data = {"pool_x": _features(pool_x), "pool_y": pool_y.astype(np.int64),
            "test_x": _features(test_x), "test_y": test_y.astype(np.int64)}
    np.savez(path, **data)
    return data


if __name__ == "__main__":
    for which in sys.argv[1:] or ["digits", "fashion"]:
        got = load(which)
        print(which, {k: v.shape for k, v in got.items()})
