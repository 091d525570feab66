"""Features of a frozen backbone body: computed once per image, then reused from the cache.

Training a head on a frozen body (a linear probe without augmentation) needs the body's pooled
features of every image exactly once. `body_features` looks each image up in the on-disk
`FeatureStore` by its content hash, runs the body only over the images it lacks, and stores
those; so a second run over the same folder, or a re-opened project with a few new photos,
computes only what is new. Evaluation of a model whose body has cached features (its body is
the unchanged pretrained one) reuses them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..data.batches import prefetch, sequential
from ..data.datasets import ImageDataset, Preprocess, eval_transform
from ..data.scan import Sample, file_digest
from ..events import Work
from ..io.featurestore import FeatureStore, namespace_key
from ..models.backbones import TransferNet
from ..models.heads import probabilities
from ..wording import count
from .autobatch import Chunking
from .recipe import autocast, channels_last_for

FLUSH_EVERY = 2048  # images between writes to the store (a cancelled pass keeps its work)


def precision_tag(device: torch.device, dtype: torch.dtype | None) -> str:
    """Features differ slightly between CPU and GPU arithmetic and between precisions."""
    return f"{device.type}-{str(dtype or torch.float32).removeprefix('torch.')}"


def open_store(model: TransferNet, backbone: str, pre: Preprocess, device: torch.device,
               dtype: torch.dtype | None, task: Work | None = None) -> FeatureStore | None:
    """The store for this body, preprocessing and precision (None if the cache is unusable)."""
    try:
        key = namespace_key(backbone, model.body, pre.to_dict(), precision_tag(device, dtype))
        return FeatureStore(key)
    except OSError as exc:
        if task is not None:
            task.message("warning", f"feature cache not used: {exc}")
        return None


def existing_store(model: TransferNet, backbone: str, pre: Preprocess, device: torch.device,
                   dtype: torch.dtype | None) -> FeatureStore | None:
    """The store of this exact body if one was ever written (the body was used frozen)."""
    store = open_store(model, backbone, pre, device, dtype)
    return store if store is not None and store.exists() else None


def _digests(samples: Sequence[Sample]) -> list[str]:
    out = []
    for sample in samples:
        try:
            out.append(sample.digest or file_digest(sample.path))
        except OSError:
            out.append("")  # unreadable now: computed (as the dataset's gray stand-in), not kept
    return out


@dataclass(frozen=True)
class FeatureRequest:
    """Which images to compute the body's features of, and how: in batches of `batch_size`
    on `device` at `dtype`, decoded by `workers` loader processes (or taken from `cache`, a
    `DecodedCache` that already holds them); `phase` names the work in progress events."""

    samples: Sequence[Sample]
    pre: Preprocess
    batch_size: int
    device: torch.device
    dtype: torch.dtype | None = None
    workers: int = 0
    phase: str = "features"
    cache: Any = None


class _Extraction:
    """Runs the body over the images the store lacks, filling `rows` and the store."""

    def __init__(self, model: TransferNet, device: torch.device, dtype: torch.dtype | None,
                 store: FeatureStore | None, task: Work) -> None:
        self.model, self.device, self.dtype, self.store = model, device, dtype, store
        self.task = task
        self.chunking = Chunking(device, task, "feature extraction")
        self.fmt = torch.channels_last if channels_last_for(device) else torch.contiguous_format
        self.unsaved: list[tuple[str, np.ndarray]] = []

    @torch.inference_mode()
    def body(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True, memory_format=self.fmt)

        def run(chunks: int) -> torch.Tensor:
            with autocast(self.device, self.dtype):
                return torch.cat([self.model.body(c).float() for c in x.tensor_split(chunks)])

        return self.chunking.run(run, len(x)).cpu()

    def keep(self, digests: Sequence[str], feats: torch.Tensor, ok: Sequence[bool]) -> None:
        rows = feats.numpy()
        self.unsaved.extend((d, rows[i]) for i, d in enumerate(digests) if d and ok[i])
        if len(self.unsaved) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.store is None or not self.unsaved:
            return
        digests = [d for d, _ in self.unsaved]
        rows = np.stack([r for _, r in self.unsaved])
        self.unsaved = []
        try:
            self.store.add(digests, rows)
        except OSError as exc:
            self.task.message("warning", f"feature cache not written: {exc}")
            self.store = None


def _from_store(store: FeatureStore | None, digests: list[str],
                dim: int) -> tuple[torch.Tensor, list[int]]:
    """Rows filled from the store, and the indices of those it lacks."""
    found = store.find(digests) if store is not None else {}
    out = torch.zeros(len(digests), dim)
    for i, digest in enumerate(digests):
        if digest in found:
            out[i] = torch.from_numpy(found[digest])
    return out, [i for i, d in enumerate(digests) if d not in found]


def _batches(samples: list[Sample], pre: Preprocess, batch_size: int, workers: int,
             device: torch.device, cache: Any = None) -> tuple[list[list[int]], Iterable]:
    """Index batches and the loader that yields (images, labels, loaded) for them (a stand-in
    for a broken file must not be cached)."""
    batches = sequential(len(samples), batch_size)
    loader = DataLoader(ImageDataset(samples, pre, eval_transform(pre), cache),
                        batch_sampler=batches,
                        num_workers=workers, pin_memory=device.type == "cuda")
    return batches, loader if workers else prefetch(loader)


def body_features(model: TransferNet, request: FeatureRequest, store: FeatureStore | None,
                  task: Work) -> tuple[torch.Tensor, list[int]]:
    """The body's pooled features of every requested sample, in order (float32, CPU), and the
    indices of the files that could not be read (their rows hold a stand-in)."""
    samples, phase = request.samples, request.phase
    model.body.eval()
    digests = _digests(samples)
    out, missing = _from_store(store, digests, model.feature_dim)
    total, done = len(samples), len(samples) - len(missing)
    if store is not None and samples:
        task.message("info", f"{phase}: {done} of {count(total, 'image')} from the feature "
                             "cache")
    task.progress(done, total, phase)
    unreadable: list[int] = []
    if not missing:
        return out, unreadable
    work = _Extraction(model, request.device, request.dtype, store, task)
    batches, loader = _batches([samples[i] for i in missing], request.pre, request.batch_size,
                               request.workers, request.device, request.cache)
    try:
        for indices, (x, _, ok) in zip(batches, loader, strict=True):
            task.check()
            rows = [missing[i] for i in indices]
            out[rows] = work.body(x)
            flags = ok.tolist()
            work.keep([digests[r] for r in rows], out[rows], flags)
            unreadable.extend(r for r, good in zip(rows, flags, strict=True) if not good)
            done += len(rows)
            task.progress(done, total, phase)
    finally:
        work.flush()  # also when cancelled: what was computed is kept
    return out, unreadable


def head_probabilities(model: TransferNet, feats: torch.Tensor, device: torch.device,
                       dtype: torch.dtype | None, batch_size: int = 4096) -> np.ndarray:
    """Softmax of the head over cached features (N x C)."""
    parts = []
    with torch.inference_mode():
        for chunk in feats.split(batch_size):
            with autocast(device, dtype):
                logits = model.head(chunk.to(device)).float()
                parts.append(probabilities(model.head, logits).cpu())
    if not parts:
        return np.zeros((0, model.num_classes), dtype=np.float32)
    return torch.cat(parts).numpy()
