"""Pretrained weights for the transfer benchmark, made here: a timm network trained from random
weights for a few minutes on a generated many-class set, so that the default fine-tune can be
checked against the probe on more than the bundled EfficientNet-Lite0.

The pretraining set has 24 classes that the benchmark's downstream sets do not have: 12
outlines (regular polygons of 5 to 8 sides, stars, a ring, a half disc, a trapezoid, L and T
shapes) and 12 textures (stripes at four angles, checkers, dots, grids, zigzags, concentric
rings, blobs), in random colours, on busy backgrounds with pixel noise. The weights are kept in
the benchmark's data folder (`pretrained/<model>.pth`, the network with its 24-class head);
`weights_for` trains them on first use.

    python tests/bench/pretrain_zoo.py --model resnet10t --minutes 5
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import data_root

from imagegen import blocks_background

OUTLINES = ("poly5", "poly6", "poly7", "poly8", "star5", "star6", "ring", "halfdisc",
            "trapezoid", "ell", "tee", "bar")
TEXTURES = ("stripes0", "stripes45", "stripes90", "stripes135", "checkers", "dots", "grid",
            "zigzag", "rings", "blobs", "crosshatch", "noise")
CLASSES = OUTLINES + TEXTURES
SIZE = 64


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))


def _polygon(cx: float, cy: float, r: float, n: int, turn: float,
             inner: float = 1.0) -> list[tuple[float, float]]:
    points = []
    steps = n * (2 if inner < 1 else 1)
    for i in range(steps):
        radius = r if i % 2 == 0 or inner == 1 else r * inner
        angle = turn + 2 * math.pi * i / steps
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _outline(draw: ImageDraw.ImageDraw, name: str, rng: random.Random) -> None:
    r = rng.uniform(0.2, 0.38) * SIZE
    cx, cy = rng.uniform(r, SIZE - r), rng.uniform(r, SIZE - r)
    turn, colour = rng.uniform(0, 2 * math.pi), _colour(rng)
    if name.startswith("poly"):
        draw.polygon(_polygon(cx, cy, r, int(name[4:]), turn), fill=colour)
    elif name.startswith("star"):
        draw.polygon(_polygon(cx, cy, r, int(name[4:]), turn, inner=0.45), fill=colour)
    elif name == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=max(2, int(r / 3)))
    elif name == "halfdisc":
        start = rng.choice([0, 90, 180, 270])
        draw.pieslice([cx - r, cy - r, cx + r, cy + r], start, start + 180, fill=colour)
    elif name == "trapezoid":
        draw.polygon([(cx - r, cy + r / 2), (cx + r, cy + r / 2), (cx + r / 2, cy - r / 2),
                      (cx - r / 2, cy - r / 2)], fill=colour)
    elif name == "ell":
        w = r / 2.5
        draw.rectangle([cx - r, cy - r, cx - r + w, cy + r], fill=colour)
        draw.rectangle([cx - r, cy + r - w, cx + r, cy + r], fill=colour)
    elif name == "tee":
        w = r / 2.5
        draw.rectangle([cx - r, cy - r, cx + r, cy - r + w], fill=colour)
        draw.rectangle([cx - w / 2, cy - r, cx + w / 2, cy + r], fill=colour)
    else:  # a long thin bar at any angle
        dx, dy = r * math.cos(turn), r * math.sin(turn)
        draw.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=max(3, int(r / 4)))


def _texture(name: str, rng: random.Random) -> Image.Image:
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    period = rng.uniform(5, 12)
    phase = rng.uniform(0, period)
    if name.startswith("stripes"):
        angle = math.radians(int(name[7:]) + rng.uniform(-8, 8))
        mask = ((x * math.cos(angle) + y * math.sin(angle) + phase) % period) < period / 2
    elif name == "checkers":
        mask = (((x + phase) // (period / 2)) + ((y + phase) // (period / 2))) % 2 == 0
    elif name == "dots":
        mask = (((x + phase) % period - period / 2) ** 2 + ((y + phase) % period - period / 2)
                ** 2) < (period / 4) ** 2
    elif name == "grid":
        mask = (((x + phase) % period) < 2) | (((y + phase) % period) < 2)
    elif name == "crosshatch":
        mask = (((x + y + phase) % period) < 2) | (((x - y + phase) % period) < 2)
    elif name == "zigzag":
        mask = ((y + 3 * np.abs(((x + phase) % period) - period / 2)) % period) < period / 2
    elif name == "rings":
        cx, cy = rng.uniform(0, SIZE), rng.uniform(0, SIZE)
        mask = (np.sqrt((x - cx) ** 2 + (y - cy) ** 2) + phase) % period < period / 2
    elif name == "blobs":
        field = np.random.default_rng(rng.randrange(1 << 30)).normal(size=(6, 6))
        big = np.asarray(Image.fromarray(field.astype(np.float32)).resize(
            (SIZE, SIZE), Image.Resampling.BICUBIC))
        mask = big > 0
    else:  # coarse noise of two colours
        cells = np.random.default_rng(rng.randrange(1 << 30)).random((16, 16)) > 0.5
        mask = np.kron(cells, np.ones((SIZE // 16, SIZE // 16))) > 0
    pixels = np.where(mask[..., None], a, b)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))


def image(cls: int, rng: random.Random) -> np.ndarray:
    """One SIZE x SIZE RGB image of class `cls` (uint8, HWC)."""
    name = CLASSES[cls]
    if name in OUTLINES:
        picture = blocks_background(SIZE, rng)
        _outline(ImageDraw.Draw(picture), name, rng)
    else:
        picture = _texture(name, rng)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 25, (SIZE, SIZE, 3))
    return np.clip(np.asarray(picture, np.float32) + noise, 0, 255).astype(np.uint8)


def dataset(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` images per class: (N, 3, SIZE, SIZE) uint8 and their labels."""
    rng = random.Random(seed)
    pictures, labels = [], []
    for cls in range(len(CLASSES)):
        for _ in range(count):
            pictures.append(image(cls, rng))
            labels.append(cls)
    x = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(labels)


def pretrain(model: str, minutes: float, per_class: int = 200, seed: int = 0,
             lr: float = 2e-3, batch: int = 64) -> Path:
    """Train timm's `model` from random weights for about `minutes` on the generated set and
    save its state dict; return the path."""
    import timm

    torch.manual_seed(seed)
    target = data_root() / "pretrained" / f"{model}.pth"
    target.parent.mkdir(parents=True, exist_ok=True)
    x, y = dataset(per_class, seed)
    xv, yv = dataset(20, seed + 1)
    net = timm.create_model(model, pretrained=False, num_classes=len(CLASSES))
    cfg = net.pretrained_cfg
    mean = torch.tensor(cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"]).view(1, 3, 1, 1)

    def prepared(batch: torch.Tensor) -> torch.Tensor:
        return (batch.float() / 255 - mean) / std

    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.05)
    start, step = time.perf_counter(), 0
    budget = minutes * 60
    while time.perf_counter() - start < budget:
        net.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x) - batch + 1, batch):
            progress = min((time.perf_counter() - start) / budget, 1.0)
            for group in optimizer.param_groups:
                warm = min(1.0, (step + 1) / 30)
                group["lr"] = lr * warm * (0.5 + 0.5 * math.cos(math.pi * progress))
            idx = order[i:i + batch]
            images = x[idx]
            flip = torch.rand(len(idx)) < 0.5
            images[flip] = images[flip].flip(-1)
            loss = torch.nn.functional.cross_entropy(net(prepared(images)), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 20 == 0:
                print(f"  {model} step {step} loss {loss.item():.3f} "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
            if progress >= 1.0:
                break
    net.eval()
    with torch.no_grad():
        accuracy = (net(prepared(xv)).argmax(1) == yv).float().mean().item()
    print(f"{model}: {step} steps in {time.perf_counter() - start:.0f} s, held-out accuracy "
          f"{accuracy:.3f} on {len(CLASSES)} classes", flush=True)
    torch.save(net.state_dict(), target)
    (target.with_suffix(".txt")).write_text(f"steps {step} accuracy {accuracy:.4f}\n")
    return target


def weights_for(model: str, minutes: float) -> Path:
    """The pretrained weights of `model` (made on first use)."""
    target = data_root() / "pretrained" / f"{model}.pth"
    return target if target.is_file() else pretrain(model, minutes)


def register_pretrained(model: str, minutes: float) -> str:
    """Register timm's `model` with the weights made here (trained on first use) as a hidden
    backbone "self/<model>": the zoo's spec of "timm/<model>" (its layer groups, classifier
    and Grad-CAM layer) with a 24-class classifier and these weights as if bundled."""
    import dataclasses

    import timm

    from transfer_gui.core.models.backbones import get_spec, register

    path = str(weights_for(model, minutes))
    spec = get_spec(f"timm/{model}")
    register(dataclasses.replace(
        spec, name=f"self/{model}", title=f"{model} (pretrained here)", hidden=True,
        builder=lambda: timm.create_model(model, pretrained=False, num_classes=len(CLASSES)),
        bundled=lambda: path))
    return f"self/{model}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet10t")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    print(pretrain(args.model, args.minutes, lr=args.lr, batch=args.batch))


if __name__ == "__main__":
    main()
