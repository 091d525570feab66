"""Preprocessing, augmentation presets and the torch Dataset over scanned samples.

Every image is first decoded to a *base* copy whose shorter side is `resize_size` (uint8, CHW);
evaluation center-crops it to `image_size`, training augments it. The base copy is what the
decoded-image cache keeps, so augmentation never pays for decoding again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from ..config import ConfigError
from ..models.backbones import BackboneSpec
from .images import ImageError, decode, resize_short
from .scan import Sample


@dataclass(frozen=True)
class Preprocess:
    """How images become network inputs: the shorter side goes to `resize_size`, then a
    centered `image_size` square, scaled to [0, 1] and normalised with `mean` and `std`."""

    image_size: int = 224
    resize_size: int = 256
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)

    @classmethod
    def for_backbone(cls, spec: BackboneSpec, image_size: int | None = None) -> Preprocess:
        size = image_size or spec.image_size
        if spec.extra.get("fixed_size") and size != spec.image_size:
            raise ConfigError(f"{spec.title} only accepts {spec.image_size} px images")
        resize = round(size * spec.resize_size / spec.image_size)
        return cls(size, resize, tuple(spec.mean), tuple(spec.std))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        return cls(
            int(data["image_size"]), int(data["resize_size"]),
            tuple(data["mean"]), tuple(data["std"]),
        )

    def normalize(self) -> v2.Transform:
        return v2.Compose([v2.ToDtype(torch.float32, scale=True),
                           v2.Normalize(self.mean, self.std)])


def unit_transform(pre: Preprocess) -> v2.Transform:
    """The centered square scaled to [0, 1], not yet normalised: what an exported model takes
    (it normalises inside)."""
    return v2.Compose([v2.CenterCrop(pre.image_size), v2.ToDtype(torch.float32, scale=True)])


def eval_transform(pre: Preprocess) -> v2.Transform:
    return v2.Compose([unit_transform(pre), v2.Normalize(pre.mean, pre.std)])


@dataclass(frozen=True)
class Augment:
    """An augmentation preset: random resized crop (area `scale`), horizontal flip, colour
    jitter (brightness, contrast, saturation, hue) with probability `jitter_p`, grayscale."""

    scale: tuple[float, float]
    jitter: tuple[float, float, float, float] | None = None
    jitter_p: float = 0.0
    grayscale_p: float = 0.0
    ratio: tuple[float, float] = (3 / 4, 4 / 3)


PRESETS: dict[str, Augment] = {
    "light": Augment(scale=(0.5, 1.0)),
    "standard": Augment(scale=(0.25, 1.0), jitter=(0.3, 0.3, 0.3, 0.03), jitter_p=0.8,
                        grayscale_p=0.05),
}


def augment_preset(augment: str) -> Augment:
    try:
        return PRESETS[augment]
    except KeyError:
        raise ConfigError(f"unknown augmentation preset {augment!r}") from None


def augment_steps(pre: Preprocess, augment: str) -> list[v2.Transform]:
    """The random steps of preset `augment` on a uint8 base image, up to normalisation."""
    if augment == "none":
        return [v2.CenterCrop(pre.image_size)]
    spec = augment_preset(augment)
    steps = [v2.RandomResizedCrop(pre.image_size, scale=spec.scale, ratio=spec.ratio,
                                  antialias=True),
             v2.RandomHorizontalFlip()]
    if spec.jitter:
        steps.append(v2.RandomApply([v2.ColorJitter(*spec.jitter)], p=spec.jitter_p))
    if spec.grayscale_p:
        steps.append(v2.RandomGrayscale(p=spec.grayscale_p))
    return steps


def train_transform(pre: Preprocess, augment: str) -> v2.Transform:
    if augment == "none":
        return eval_transform(pre)
    return v2.Compose([*augment_steps(pre, augment), pre.normalize()])


def augment_preview(path: str, pre: Preprocess, augment: str, count: int = 8,
                    seed: int = 0) -> list[torch.Tensor]:
    """`count` versions of the image at `path` as training would see them under preset
    `augment` (uint8 CHW, before normalisation); the same `seed` draws the same versions."""
    steps = v2.Compose(augment_steps(pre, augment))
    base = load_base(path, pre.resize_size)
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        return [steps(base) for _ in range(count)]
    finally:
        torch.random.set_rng_state(generator_state)  # training's randomness is not disturbed


def to_tensor(image) -> torch.Tensor:
    """A PIL RGB image as a contiguous uint8 CHW tensor. The copy is numpy's: a torch copy
    would wake torch's worker threads, which then spin and slow decoding in other threads."""
    chw = np.ascontiguousarray(np.asarray(image, dtype=np.uint8).transpose(2, 0, 1))
    return torch.from_numpy(chw)


def load_base(path: str, resize_size: int) -> torch.Tensor:
    """Decode `path` and resize its shorter side to `resize_size` (uint8 CHW)."""
    return to_tensor(resize_short(decode(path, min_side=resize_size), resize_size))


def target_tensor(samples: Sequence[Sample]) -> torch.Tensor:
    """The samples' targets as one tensor: class indices (int64, N), or every task's target
    columns (float32, N x W) when the samples carry `targets` (`labels`)."""
    if samples and samples[0].targets:
        return torch.tensor([s.targets for s in samples], dtype=torch.float32)
    return torch.tensor([s.label for s in samples], dtype=torch.long)


class ImageDataset(Dataset):
    """(input tensor, label, loaded) triples. A file that fails to load after the scan (moved,
    changed) gives a gray image with `loaded` False and is recorded in `failures`, so a long run
    is not lost to one file and the batch it is in can leave it out and name it."""

    def __init__(
        self,
        samples: Sequence[Sample],
        pre: Preprocess,
        transform: Callable[[torch.Tensor], torch.Tensor],
        cache: Any = None,
    ) -> None:
        self.samples = list(samples)
        self.pre = pre
        self.transform = transform
        self.cache = cache
        self.failures: list[ImageError] = []

    def __len__(self) -> int:
        return len(self.samples)

    def base(self, index: int) -> torch.Tensor:
        path = self.samples[index].path
        if self.cache is not None:
            hit = self.cache.get(path)
            if hit is not None:
                return hit
        try:
            image = load_base(path, self.pre.resize_size)
        except ImageError as exc:
            self.failures.append(exc)
            side = self.pre.resize_size
            return torch.full((3, side, side), 128, dtype=torch.uint8)
        if self.cache is not None:
            self.cache.put(path, image)
        return image

    def load(self, index: int) -> tuple[torch.Tensor, bool]:
        """The base image of sample `index` and whether it loaded (else a gray stand-in)."""
        failed = len(self.failures)
        image = self.base(index)
        return image, len(self.failures) == failed

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor, bool]:
        image, loaded = self.load(index)
        sample = self.samples[index]
        target = torch.tensor(sample.targets) if sample.targets else sample.label
        return self.transform(image), target, loaded
