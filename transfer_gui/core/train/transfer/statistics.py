"""Domain adaptation without training: feature alignment and AdaBN.

* Feature alignment: the head was trained on source features; a target image's feature `f` is
  standardised with the target's own mean and standard deviation and mapped onto the source's,
  `(f - m_t) / s_t * s_s + m_s`, per feature. No target label is used, only the unlabelled
  target features (from the feature cache when the body is the pretrained one). The map is
  affine, so it is folded into the head's first linear layer (a k-NN head's bank is mapped the
  other way): the saved model takes the target's raw features, and prediction, evaluation,
  export and Grad-CAM need nothing new. Both sets of statistics are also saved in the run
  folder (`ALIGNMENT`).
* AdaBN (Li et al., 2016): every BatchNorm layer's running mean and variance are re-estimated
  on the target images (the average over one pass in eval order); every weight stays as it
  was. A network without BatchNorm (ViT, ConvNeXt: LayerNorm normalises each image by itself)
  has no running statistics to re-estimate: there only feature alignment applies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ...models.heads import KNNHead

ALIGNMENT = "alignment.safetensors"
NO_BATCHNORM = ("this network has no BatchNorm layers (it normalises each image by itself, "
                "with LayerNorm), so there are no running statistics for AdaBN to re-estimate; "
                "feature alignment applies")


def _spread(features: torch.Tensor) -> torch.Tensor:
    """Per-feature standard deviation, kept away from 0 (a feature constant on one domain)."""
    std = features.std(0) if len(features) > 1 else torch.ones(features.shape[1])
    floor = max(1e-6, 0.01 * float(std.mean())) if std.numel() else 1e-6
    return std.clamp_min(floor)


@dataclass(frozen=True)
class Alignment:
    """Each domain's feature mean and standard deviation (float32, CPU)."""

    source_mean: torch.Tensor
    source_std: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor

    @classmethod
    def between(cls, source: torch.Tensor, target: torch.Tensor) -> Alignment:
        # in double precision: the statistics do not depend on the order of the images
        source, target = source.double().cpu(), target.double().cpu()
        return cls(*(t.float() for t in (source.mean(0), _spread(source), target.mean(0),
                                          _spread(target))))

    @property
    def scale(self) -> torch.Tensor:
        return self.source_std / self.target_std

    @property
    def shift(self) -> torch.Tensor:
        return self.source_mean - self.target_mean * self.scale

    def apply(self, target: torch.Tensor) -> torch.Tensor:
        """Target features mapped onto the source's statistics."""
        return target.float().cpu() * self.scale + self.shift

    def save(self, run_dir: Path) -> None:
        from safetensors.torch import save_file

        tensors = {"source_mean": self.source_mean, "source_std": self.source_std,
                   "target_mean": self.target_mean, "target_std": self.target_std}
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(run_dir / ALIGNMENT))

    @classmethod
    def load(cls, run_dir: Path) -> Alignment:
        from safetensors.torch import load_file

        data = load_file(str(run_dir / ALIGNMENT))
        return cls(data["source_mean"], data["source_std"], data["target_mean"],
                   data["target_std"])


def first_linear(head: nn.Module) -> nn.Linear | None:
    if isinstance(head, nn.Linear):
        return head
    return next((m for m in head.modules() if isinstance(m, nn.Linear)), None)


@torch.no_grad()
def fold_alignment(head: nn.Module, alignment: Alignment,
                   source_features: torch.Tensor | None = None) -> None:
    """Make `head` take raw target features: `head(align(f))` for a linear head (the map
    folded into its first layer). A k-NN head's bank is rebuilt from `source_features` (its
    training features, in its bank's order) mapped onto the target's statistics."""
    if isinstance(head, KNNHead):
        if source_features is None:
            raise ValueError("a k-NN head needs its source features to be aligned")
        inverse = (source_features.float().cpu() - alignment.shift) / alignment.scale
        head.bank.copy_(torch.nn.functional.normalize(inverse, dim=1).to(head.bank))
        return
    layer = first_linear(head)
    if layer is None:
        raise ValueError("the head has no linear layer to fold the alignment into")
    scale = alignment.scale.to(layer.weight)
    shift = alignment.shift.to(layer.weight)
    bias = layer.weight @ shift
    layer.weight.mul_(scale)
    if layer.bias is not None:
        layer.bias.add_(bias)
    else:
        layer.bias = nn.Parameter(bias)


def batchnorms(module: nn.Module) -> list[_BatchNorm]:
    return [m for m in module.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats]


@torch.no_grad()
def adabn(body: nn.Module, batches: Iterable[torch.Tensor],
          total: Callable[[torch.Tensor], torch.Tensor] | None = None) -> int:
    """Re-estimate every BatchNorm layer's running statistics of `body` on `batches` (the
    cumulative average over them); nothing else changes. Returns the number of layers.

    `total`: on several processes, the sum over them (`Ranks.sum`). Each process then passes
    its own batches, its layers kept from synchronising (a SyncBatchNorm would wait for the
    others' batches), and the averages are pooled, weighted by each process's number of
    batches: the cumulative average over every process's batches, as one process would
    compute it over all of them."""
    layers = batchnorms(body)
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    body.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average: every batch counts alike
        layer.train()
        if isinstance(layer, nn.SyncBatchNorm):
            layer.forward = partial(_BatchNorm.forward, layer)  # type: ignore[method-assign]
    try:
        for x in batches:
            body(x)
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
            layer.__dict__.pop("forward", None)
        body.eval()
    if total is not None:
        pool_running_stats(layers, total)
    return len(layers)


def pool_running_stats(layers: list[_BatchNorm],
                       total: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Each layer's cumulative running mean and variance, over the batches every process
    counted (`num_batches_tracked`), in one sum over the processes (in double precision)."""
    parts = []
    for layer in layers:
        assert layer.running_mean is not None and layer.running_var is not None
        n = layer.num_batches_tracked.double().reshape(1)  # type: ignore[union-attr]
        parts += [layer.running_mean.double() * n, layer.running_var.double() * n, n]
    pooled = total(torch.cat(parts).cpu())
    at = 0
    for layer in layers:
        assert layer.running_mean is not None and layer.running_var is not None
        size = layer.running_mean.numel()
        mean, var = pooled[at : at + size], pooled[at + size : at + 2 * size]
        n = pooled[at + 2 * size]
        at += 2 * size + 1
        if n > 0:  # no batch anywhere: the reset statistics stay, as on one process
            layer.running_mean.copy_(mean / n)
            layer.running_var.copy_(var / n)
            layer.num_batches_tracked.fill_(int(n))  # type: ignore[union-attr]
