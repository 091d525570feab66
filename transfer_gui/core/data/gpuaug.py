"""Batches assembled from decoded-image cache entries and augmented on the GPU as a whole.

On a GPU, per-image augmentation on the CPU is what limits the step rate. Here the CPU only
copies each cached uint8 image into one pinned, padded batch (no arithmetic); the GPU then crops
and resizes every image in one `roi_align` call (bilinear, with as many samples per output
pixel as the scale needs, so downscaling is smoothed much like an antialiased resize), flips,
jitters colours and normalises. Random parameters come from a generator seeded by the run's
seed and the epoch, so a resumed run augments alike.

Differences from the per-image CPU transforms, by design: the colour-jitter operations run in a
fixed order (torchvision shuffles it per image), and hue is shifted by a rotation in YIQ space
rather than in HSV.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torchvision.ops import roi_align

from ..models.backbones import TransferNet
from .batches import Batch, assemble, epoch_order
from .datasets import Augment, ImageDataset, Preprocess, augment_preset, target_tensor
from .shard import WHOLE, Shard

_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_RGB = torch.linalg.inv(_YIQ)  # here, not on the GPU: inverting there would wait for the host
_GRAY = (0.2989, 0.587, 0.114)


def crop_boxes(sizes: Sequence[tuple[int, int]], spec: Augment,
               generator: torch.Generator, tries: int = 10) -> torch.Tensor:
    """RandomResizedCrop boxes (x1, y1, x2, y2) for images of (height, width) `sizes`, drawn
    as torchvision draws them: `tries` random candidates, else the central crop."""
    hw = torch.tensor(sizes, dtype=torch.float64).reshape(-1, 2)
    h, w = hw[:, :1], hw[:, 1:]
    n = len(hw)
    area = h * w * _uniform(generator, (n, tries), *spec.scale)
    log_r = _uniform(generator, (n, tries), math.log(spec.ratio[0]), math.log(spec.ratio[1]))
    cw = torch.sqrt(area * torch.exp(log_r)).round()
    ch = torch.sqrt(area / torch.exp(log_r)).round()
    ok = (cw > 0) & (ch > 0) & (cw <= w) & (ch <= h)
    first = ok.float().argmax(dim=1, keepdim=True)
    found = ok.any(dim=1, keepdim=True)
    fw, fh = _central(h, w, spec.ratio)
    cw = torch.where(found, cw.gather(1, first), fw)
    ch = torch.where(found, ch.gather(1, first), fh)
    top = torch.where(found, (torch.rand(n, 1, generator=generator, dtype=torch.float64)
                              * (h - ch + 1)).floor(), ((h - ch) / 2).floor())
    left = torch.where(found, (torch.rand(n, 1, generator=generator, dtype=torch.float64)
                               * (w - cw + 1)).floor(), ((w - cw) / 2).floor())
    return torch.cat([left, top, left + cw, top + ch], dim=1).float()


def _uniform(generator: torch.Generator, shape: tuple[int, ...], low: float,
             high: float) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=torch.float64) * (high - low) + low


def _central(h: torch.Tensor, w: torch.Tensor,
             ratio: tuple[float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's fallback: the whole image, cut to the allowed aspect-ratio range."""
    aspect = w / h
    fw = torch.where(aspect > ratio[1], (h * ratio[1]).round(), w)
    fh = torch.where(aspect < ratio[0], (w / ratio[0]).round(), h)
    return fw, fh


def stage(images: Sequence[torch.Tensor], device: torch.device) -> torch.Tensor:
    """The uint8 CHW images padded into one batch (pinned for an asynchronous copy) on device."""
    height = max(im.shape[1] for im in images)
    width = max(im.shape[2] for im in images)
    batch = torch.zeros((len(images), 3, height, width), dtype=torch.uint8,
                        pin_memory=device.type == "cuda")
    for i, image in enumerate(images):
        batch[i, :, : image.shape[1], : image.shape[2]].copy_(image)
    return batch.to(device, non_blocking=True)


def center_crops(images: Sequence[torch.Tensor], side: int) -> list[torch.Tensor]:
    out = []
    for image in images:
        top, left = (image.shape[1] - side) // 2, (image.shape[2] - side) // 2
        out.append(image[:, top : top + side, left : left + side])
    return out


def augment_batch(images: Sequence[torch.Tensor], pre: Preprocess, spec: Augment,
                  generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Random resized crop, flip, colour jitter and grayscale of uint8 CHW `images` (any
    sizes) as one float batch in [0, 1] on `device`, `pre.image_size` square."""
    n = len(images)
    boxes = crop_boxes([(im.shape[1], im.shape[2]) for im in images], spec, generator)
    rois = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], boxes], dim=1)
    batch = stage(images, device).float()
    x = roi_align(batch, rois.to(device), pre.image_size, 1.0, -1, True) / 255
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
    if spec.jitter:
        x = _jitter(x, spec, generator)
    if spec.grayscale_p:
        gray = (torch.rand(n, generator=generator) < spec.grayscale_p).to(device)
        x = torch.where(gray[:, None, None, None], _gray(x).expand_as(x), x)
    return x


def _gray(x: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_GRAY, device=x.device, dtype=x.dtype)[None, :, None, None]
    return (x * weights).sum(dim=1, keepdim=True)


def _blend(a: torch.Tensor, b: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    return (factor * a + (1 - factor) * b).clamp(0, 1)


def _jitter(x: torch.Tensor, spec: Augment, generator: torch.Generator) -> torch.Tensor:
    assert spec.jitter is not None
    n = len(x)
    apply = (torch.rand(n, generator=generator) < spec.jitter_p).float()
    offsets = [(apply * _uniform(generator, (n,), -f, f).float()).to(x.device)[:, None, None, None]
               for f in spec.jitter]
    b, c, s = (1 + o for o in offsets[:3])
    h = offsets[3]
    x = (x * b).clamp(0, 1)
    x = _blend(x, _gray(x).mean(dim=(2, 3), keepdim=True), c)
    x = _blend(x, _gray(x), s)
    return _hue(x, h)


def _hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate chroma by `shift` turns (per image) in YIQ space."""
    yiq = torch.einsum("ij,njhw->nihw", _YIQ.to(x.device, x.dtype), x)
    angle = shift * (2 * math.pi)
    cos, sin = torch.cos(angle), torch.sin(angle)
    i, q = yiq[:, 1:2], yiq[:, 2:3]
    yiq = torch.cat([yiq[:, :1], cos * i - sin * q, sin * i + cos * q], dim=1)
    return torch.einsum("ij,njhw->nihw", _RGB.to(x.device, x.dtype), yiq).clamp(0, 1)


class GpuBatches:
    """Training and validation batches from cached images, augmented on `device`."""

    def __init__(self, train: ImageDataset, val: ImageDataset, augment: str, batch_size: int,
                 seed: int, device: torch.device, channels_last: bool,
                 shard: Shard = WHOLE, balanced: bool = False) -> None:
        self.train, self.val_set, self.shard = train, val, shard
        self.draw = [s.label for s in train.samples] if balanced else None  # as ImageBatches
        self.spec = augment_preset(augment) if augment != "none" else None
        self.batch_size, self.seed, self.device = batch_size, seed, device
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        pre = train.pre
        self.mean = torch.tensor(pre.mean, device=device)[None, :, None, None]
        self.std = torch.tensor(pre.std, device=device)[None, :, None, None]

    @property
    def steps_per_epoch(self) -> int:
        return len(epoch_order(len(self.train), self.batch_size, self.seed, 0))

    def _finish(self, x: torch.Tensor, dataset: ImageDataset, idx: list[int],
                loaded: list[bool]) -> Batch:
        x = ((x - self.mean) / self.std).contiguous(memory_format=self.fmt)
        y = target_tensor([dataset.samples[i] for i in idx]).to(self.device, non_blocking=True)
        return assemble(x, y, torch.tensor(loaded), dataset.samples, idx)

    def _plain(self, dataset: ImageDataset, idx: list[int]) -> Batch:
        images, loaded = zip(*(dataset.load(i) for i in idx), strict=True)
        crops = center_crops(list(images), dataset.pre.image_size)
        x = stage(crops, self.device).float() / 255
        return self._finish(x, dataset, idx, list(loaded))

    def train_epoch(self, epoch: int) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_033 + epoch)
        for idx in self.shard.batches(epoch_order(len(self.train), self.batch_size, self.seed,
                                                  epoch, self.draw)):
            if self.spec is None:
                yield self._plain(self.train, idx)
                continue
            images, loaded = zip(*(self.train.load(i) for i in idx), strict=True)
            x = augment_batch(list(images), self.train.pre, self.spec, generator, self.device)
            yield self._finish(x, self.train, idx, list(loaded))

    def val_batches(self) -> Iterator[Batch]:
        for idx in self.shard.sequential(len(self.val_set), self.batch_size):
            yield self._plain(self.val_set, idx)

    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor:
        return model(x)
