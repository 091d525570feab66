"""One pass of a body over a folder's images, for adaptation's statistics and its target
accuracy: from the feature cache when the body is one whose features were cached (a frozen,
pretrained body: no forward pass), else through the body, each image decoded once into a
`DecodedCache` that every later pass over the same folder reuses.

On several processes each process passes over its own part of the folder, made of whole
batches of the pass (`Shard.whole_batches`: the batches one process would form), and the
features are gathered in order (`sources.shared_features`), so every process ends with the
features one process computes; AdaBN pools its running statistics over the same batches
(`statistics.adabn`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader

from ...data.datasets import ImageDataset, eval_transform
from ...data.imagecache import MIB, DecodedCache, prefill
from ...data.scan import Sample
from ...io.featurestore import cache_root
from ..features import FeatureRequest, existing_store
from ..hooks import FitState
from ..recipe import autocast
from ..sources import extraction_batch, shared_features


class FolderPass:
    """The images of one folder (`samples`, in a fixed order) for repeated passes; `cache`:
    the decoded images training already holds (a DANN or CORAL run's), if any; `again`: the
    images will be needed again (AdaBN), so even a pass that fills the feature cache keeps
    them decoded. `span`: the images this process passes over (all of them on one process)."""

    def __init__(self, fit: FitState, samples: Sequence[Sample], cache: Any = None,
                 again: bool = False) -> None:
        self.fit, self.samples, self.again = fit, list(samples), again
        self.cache: DecodedCache | None = cache
        self.batch = extraction_batch(fit.device, fit.prep.config.train.batch_size)
        self.span = fit.ranks.shard.whole_batches(len(self.samples), self.batch)

    def _decoded(self) -> DecodedCache:
        if self.cache is None or not isinstance(self.cache, DecodedCache):
            cfg, pre = self.fit.prep.config.train, self.fit.prep.preprocess
            self.cache = DecodedCache(cfg.cache_memory_mb * MIB, cache_root() / "spill")
            mine = self.samples[self.span.start : self.span.stop]
            prefill(self.cache, [s.path for s in mine], pre.resize_size, self.fit.task)
        return self.cache

    def images(self) -> Iterator[torch.Tensor]:
        """This process's images as input batches on the device, in order (eval transform)."""
        fit = self.fit
        pre = fit.prep.preprocess
        dataset = ImageDataset(self.samples, pre, eval_transform(pre), self._decoded())
        span, size = self.span, self.batch
        batches = [list(range(i, min(i + size, span.stop)))
                   for i in range(span.start, span.stop, size)]
        loader = DataLoader(dataset, batch_sampler=batches)
        fmt = torch.channels_last if fit.channels_last else torch.contiguous_format
        for x, _, _ in loader:
            fit.task.check()
            yield x.to(fit.device, memory_format=fmt)

    def features(self) -> torch.Tensor:
        """The body's pooled features of every image (float32, CPU): from the feature cache
        where this exact body's features were cached, else one forward pass (on several
        processes: each its part, then gathered)."""
        fit = self.fit
        model, prep = fit.model, fit.prep
        store = existing_store(model, prep.config.model.backbone, prep.preprocess, fit.device,
                               fit.dtype)
        cache = self._decoded() if self.again or store is None else self.cache
        request = FeatureRequest(self.samples, prep.preprocess, self.batch, fit.device,
                                 fit.dtype, cache=cache)
        return shared_features(fit, model, request, store, self.span, fit.task.quiet())[0]


def head_accuracy(fit: FitState, features: torch.Tensor, labels: Sequence[int]) -> float:
    """The accuracy of the model's head on `features` against `labels`."""
    if not len(labels):
        return 0.0
    with torch.inference_mode(), autocast(fit.device, fit.dtype):
        logits = fit.model.head(features.to(fit.device)).float().cpu()
    return float((logits.argmax(1) == torch.tensor(list(labels))).float().mean())
