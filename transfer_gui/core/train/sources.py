"""Which batch source a run trains from, and building it.

* Frozen body, no augmentation: the body's features, each image computed once (and kept in
  the on-disk feature cache), and only the head trains (`FeatureBatches`).
* Otherwise images. With the decoded-image cache on (the default), every image is decoded
  and resized once, in threads, before the first epoch; epochs then work on the cached copies.
  On a GPU those are augmented there, a batch at a time (`GpuBatches`); on the CPU the usual
  per-image transforms run in the DataLoader (`ImageBatches`).

DataLoader workers (`threads.plan_threads`, chosen with the model's threads: none on a 2-core
CPU, where decoding in parallel would only take cores from the model) are used with the
decoded cache only where workers are forked and so share the filled cache; with "spawn" each
worker would need a copy of it.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from typing import TYPE_CHECKING, Any

import torch

from ..data.batches import FeatureBatches, ImageBatches, failure
from ..data.datasets import ImageDataset, eval_transform, target_tensor, train_transform
from ..data.gpuaug import GpuBatches
from ..data.imagecache import MIB, DecodedCache, prefill
from ..data.scan import Sample
from ..data.shard import Shard
from ..events import Work
from ..io.featurestore import cache_root
from .features import FeatureRequest, body_features, open_store
from .hooks import FitState
from .threads import plan_threads

if TYPE_CHECKING:
    from .prepare import Prepared

CPU_EXTRACT_BATCH = 16  # measured: 1.5-2x the images/s of 32 or 64 (activations stay in cache)
GPU_EXTRACT_BATCH = 64  # inference batches can be larger than training ones: fuller steps


def extraction_batch(device: torch.device, batch_size: int) -> int:
    """The batch for the one inference pass over the images (no effect on the results)."""
    if device.type == "cpu":
        return CPU_EXTRACT_BATCH
    return max(batch_size, GPU_EXTRACT_BATCH)


def build_source(fit: FitState, prep: Prepared | None = None) -> Any:
    """The batch source of a run, over `prep`'s files (the run's own by default). From
    features, files that cannot be read are left out and listed in the source's `failed`;
    image batches list theirs in each batch (`batches.Batch.failed`)."""
    if fit.use_features:
        return feature_source(fit, prep)
    return image_source(fit, prep or fit.prep)


def _workers(fit: FitState) -> int:
    """The loader workers the run's thread plan gave (the setting, when given)."""
    cfg = fit.prep.config.train
    if cfg.num_workers is not None:
        return cfg.num_workers
    plan = fit.threads or plan_threads(fit.device.type)
    return plan.workers


def feature_source(fit: FitState, prep: Prepared | None = None,
                   shard: Shard | None = None) -> FeatureBatches:
    """Batches of the body's features of `prep`'s images; each process of a distributed run
    trains on its `shard` of them (by default its own; `WHOLE`: all of them)."""
    prep = prep or fit.prep
    cfg, model, pre, device = prep.config.train, fit.model, prep.preprocess, fit.device
    store = open_store(model, prep.config.model.backbone, pre, device, fit.dtype, fit.task)
    samples = [*prep.train, *prep.val]
    request = FeatureRequest(samples, pre, extraction_batch(device, cfg.batch_size), device,
                             fit.dtype, _workers(fit), cache=decoded_cache(fit.source))
    feats, failed = shared_features(fit, model, request, store)
    n = len(prep.train)
    bad = set(failed)
    train = [i for i in range(n) if i not in bad]
    val = [i for i in range(len(prep.val)) if i + n not in bad]
    return FeatureBatches((feats[train], _labels([prep.train[i] for i in train])),
                          (feats[[n + i for i in val]], _labels([prep.val[i] for i in val])),
                          cfg.batch_size, cfg.seed, device,
                          [failure(samples[i]) for i in sorted(bad)],
                          fit.ranks.shard if shard is None else shard,
                          cfg.balance == "sampler")


def shared_features(fit: FitState, model: Any, request: FeatureRequest, store: Any,
                    span: range | None = None, task: Work | None = None
                    ) -> tuple[torch.Tensor, list[int]]:
    """The body's features of every image of `request` and the indices of those that failed.
    With several processes each computes its own contiguous part (`span`; by default its
    share of the images) and the parts are gathered, so every process ends with all of them.
    `task`: what hears of the work (the run's task by default)."""
    ranks, task = fit.ranks, task or fit.task
    if not ranks.many:
        return body_features(model, request, store, task)
    span = ranks.shard.span(len(request.samples)) if span is None else span
    mine = dataclasses.replace(request, samples=request.samples[span.start : span.stop],
                               phase=f"{request.phase} (process {ranks.rank + 1} of "
                                     f"{ranks.world}: {len(span)} of "
                                     f"{len(request.samples)} images)")
    feats, failed = body_features(model, mine, store, task)
    every = ranks.objects([span.start + i for i in failed])
    return ranks.gather_rows(feats), sorted(i for part in every for i in part)


def decoded_cache(source: Any) -> Any:
    """The decoded images an image batch source holds (an LP-FT probe's feature pass reads
    them instead of decoding again), else None. A paired source's are its own folder's."""
    source = getattr(source, "own", source)
    return getattr(getattr(source, "train", None), "cache", None)


def image_source(fit: FitState, prep: Prepared) -> Any:
    cfg, pre, device = prep.config.train, prep.preprocess, fit.device
    workers = _workers(fit)
    cache = None
    if cfg.cache_decoded:
        cache = DecodedCache(cfg.cache_memory_mb * MIB, cache_root() / "spill")
        paths = [s.path for s in (*prep.train, *prep.val)]
        prefill(cache, paths, pre.resize_size, fit.task)
    train = ImageDataset(prep.train, pre, train_transform(pre, cfg.augment or "none"), cache)
    val = ImageDataset(prep.val, pre, eval_transform(pre), cache)
    if cache is not None and device.type == "cuda":
        return GpuBatches(train, val, cfg.augment or "none", cfg.batch_size, cfg.seed, device,
                          fit.channels_last, fit.ranks.shard, cfg.balance == "sampler")
    if cache is not None and multiprocessing.get_context().get_start_method() != "fork":
        workers = 0
    return ImageBatches(train, val, cfg.batch_size, cfg.seed, workers, device,
                        fit.channels_last, fit.ranks.shard, cfg.balance == "sampler")


def _labels(samples: list[Sample]) -> torch.Tensor:
    return target_tensor(samples)
