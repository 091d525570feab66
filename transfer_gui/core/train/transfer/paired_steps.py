"""Training steps on two folders at once: joint training and domain adaptation.

Every step takes a batch from the labelled folder that drives the epoch and, as its partner, a
batch from the other folder (see `paired.PairedBatches`).

* Joint training: `a * L_source + b * L_target`, both cross-entropies. The two batches go
  through the model together (one forward pass, so BatchNorm sees both domains, as it will on
  neither at test time but as the mixed running statistics it keeps describe). A part whose
  weight is 0 never runs through the model: with `b = 0` each step is exactly a source-only step.
* DANN (Ganin & Lempitsky, 2015): a small domain classifier learns to tell source features from
  target features (`model.body(x)`, the pooled features the head sees); between the body and
  it, a gradient-reversal layer flips the gradient, so the body learns features the domain
  classifier cannot tell apart. The reversal's weight ramps up over training as
  `2 / (1 + exp(-10 p)) - 1` (progress p from 0 to 1), times `adapt_weight`, so the early,
  random domain signal does not disturb the classifier while it forms.
* Deep CORAL (Sun & Saenko, 2016): `adapt_weight * ||C_s - C_t||_F^2 / (4 d^2)`, the distance
  between the source and target feature covariances of the batch.

Out of GPU memory, joint and DANN steps split both batches into chunks and accumulate the
gradients, like ordinary steps. A CORAL step cannot be split (the covariances are over the
whole batch): it stops with `OutOfMemory` and says so.

On several processes (`dist.parts.Distributed`) each process steps on its part of both
batches, and every way through the model goes through DistributedDataParallel, the DANN
domain classifier with it, so the gradients of the body, the head and the domain classifier
are all averaged over the processes. CORAL's covariances are each process's own: the term is
the covariance gap of the process's part of the source and target batches (the features are
not gathered), the gradients of these terms then averaged, so N processes of a batch B
compare covariances of about B / N images each, as one process with batches of B / N would.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ...config import TransferConfig
from ..autobatch import Chunking, OutOfMemory, free_memory
from ..recipe import autocast
from ..steps import Stepper

if TYPE_CHECKING:
    from ...models.backbones import TransferNet

Parts = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class _Reverse(torch.autograd.Function):
    """Identity forward; the gradient times `-coeff` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, coeff: float) -> torch.Tensor:
        ctx.coeff = coeff
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.coeff * grad, None


def grad_reverse(x: torch.Tensor, coeff: float) -> torch.Tensor:
    return _Reverse.apply(x, coeff)


def dann_ramp(progress: float) -> float:
    """DANN's weight schedule: 0 at the start, close to 1 by the end of training."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


def covariance(features: torch.Tensor) -> torch.Tensor:
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / max(len(features) - 1, 1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||C_s - C_t||_F^2 / (4 d^2) of two feature batches (n, d)."""
    d = source.shape[1]
    return (covariance(source) - covariance(target)).pow(2).sum() / (4 * d * d)


class DomainClassifier(nn.Sequential):
    """Features -> one logit: is this image from the target domain? Trained only during a
    DANN run; never part of the saved model."""

    def __init__(self, features: int, hidden: int = 256) -> None:
        super().__init__(
            nn.Linear(features, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, 1),
        )


def _body_and_head(model: TransferNet, x: torch.Tensor, sources: int,
                   domain: nn.Module | None, coeff: float) -> tuple[torch.Tensor, ...]:
    """The body's features of `x`, the head's logits of its first `sources` images and, with
    a `domain` classifier, its logits of every image through the gradient reversal."""
    feats = model.body(x)
    logits = model.head(feats[:sources])
    if domain is None:
        return feats, logits
    return feats, logits, domain(grad_reverse(feats.float(), coeff))


def domain_param_groups(module: nn.Module, lr: float, weight_decay: float) -> list[dict]:
    """Optimizer groups for the domain classifier: its weights decay, its biases do not."""
    params = list(module.parameters())
    return [{"params": [p for p in params if p.ndim > 1], "lr": lr,
             "weight_decay": weight_decay, "name": "domain"},
            {"params": [p for p in params if p.ndim <= 1], "lr": lr, "weight_decay": 0.0,
             "name": "domain"}]


class WholeBatch(Chunking):
    """For steps whose loss needs the whole batch at once: out of memory, it stops."""

    def _split_more(self, batch: int) -> None:
        free_memory(self.device)
        raise OutOfMemory(
            f"out of GPU memory: a CORAL step needs all {batch} images of its source and target "
            "batches at once (it compares their feature covariances), so it cannot be split. "
            "Choose a smaller batch size or image size; the best epoch so far is kept.")


class PairedStepper(Stepper):
    """A `Stepper` whose training steps take a second batch from the other folder.

    `train(x, y, other)`: (x, y) is the labelled batch that drives the epoch, `other` the other
    folder's (images, labels) or None. Returns [summed loss, correct] like `Stepper.train`:
    the loss is the labelled part of the objective (joint: `a * L_s + b * L_t`; adaptation:
    the source cross-entropy, without the adaptation term), the accuracy that of the labelled
    images that ran through the model.
    """

    model: TransferNet  # the body and the head are run apart

    def __init__(self, *args: Any, transfer: TransferConfig, total_steps: int,
                 domain: nn.Module | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transfer, self.total_steps, self.domain = transfer, max(total_steps, 1), domain
        self.companions: tuple[nn.Module, ...] = (domain,) if domain is not None else ()
        method = transfer.gradient or transfer.mode  # joint, dann or coral
        chunking = WholeBatch if method == "coral" else Chunking
        self.pair_chunking = chunking(self.device, self.chunking.task,
                                      "training (source and target batches)")
        objectives: dict[str, Callable[..., tuple[torch.Tensor, torch.Tensor]]] = {
            "joint": self._joint, "dann": self._dann, "coral": self._coral}
        self.objective = objectives[method]
        self.adapt_weight = transfer.adapt_weight or 0.0

    def step(self, batch: Any) -> torch.Tensor:
        partner = batch.partner
        return self.train(batch.x, batch.y, (partner.x, partner.y) if partner is not None else None)

    def train(self, x: torch.Tensor, y: torch.Tensor,
              other: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        xt, yt = other if other is not None else (x[:0], y[:0])
        work = partial(self._paired, (x, y, xt, yt))
        return self.pair_chunking.run(work, len(y) + len(yt))

    def _paired(self, batch: Parts, chunks: int) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        stats = torch.zeros(2, device=batch[1].device)
        sizes = (len(batch[1]), len(batch[3]))
        for i, part in enumerate(zip(*(t.tensor_split(chunks) for t in batch), strict=True)):
            with self.accumulating(i < chunks - 1):
                loss, part_stats = self.objective(part, sizes)
                if loss.requires_grad:
                    self.scaler.scale(loss).backward()
            stats += part_stats
        self._step()
        return stats

    def _progress(self) -> float:
        return self.scheduler.last_epoch / self.total_steps  # steps taken so far / all steps

    # --- objectives: (loss of this chunk, its [loss sum, correct] for the epoch meter) -----

    def _joint(self, part: Parts, sizes: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys, xt, yt = part
        weights = (self.transfer.source_weight, self.transfer.target_weight)
        # (images, labels, weight, batch size) of each part that counts in this chunk
        used = [u for u in zip((xs, xt), (ys, yt), weights, sizes, strict=True)
                if u[2] > 0 and len(u[1])]
        if not used:  # only a zero-weight part has images in this chunk
            return xs.new_zeros(()), xs.new_zeros(2)
        x = torch.cat([u[0] for u in used]) if len(used) > 1 else used[0][0]
        logits = self._logits(x)
        loss, shown, correct = (logits.new_zeros(()) for _ in range(3))
        for (_, y, weight, n), out in zip(used, logits.split([len(u[1]) for u in used]),
                                          strict=True):
            ce = self.kind.loss(out, y, self.label_smoothing)
            loss = loss + weight * ce * (len(y) / n)  # chunks add up to the batch mean
            shown = shown + weight * self.plain(out, y, ce) * (len(y) / n)
            correct = correct + self.kind.correct(out, y)
        ran = sum(n for w, n in zip(weights, sizes, strict=True) if w > 0)  # in the batch
        # the meter divides by the source batch size: the accuracy over all images that ran
        return loss, torch.stack([shown * sizes[0], correct * (sizes[0] / ran)])

    def _run(self, route: Callable[[nn.Module, torch.Tensor], Any], x: torch.Tensor) -> Any:
        """`route(model, x)`: the body and the head apart (a distributed stepper runs it
        inside DistributedDataParallel)."""
        return route(self.model, x)

    def _features(self, xs: torch.Tensor, xt: torch.Tensor, coeff: float | None = None
                  ) -> tuple[torch.Tensor, ...]:
        """Pooled features of source and target together (one pass: BatchNorm sees both),
        the source part's logits and, given the reversal's `coeff`, the domain classifier's
        logits of every image."""
        domain = self.domain if coeff is not None else None
        route = partial(_body_and_head, sources=len(xs), domain=domain, coeff=coeff or 0.0)
        with autocast(self.device, self.dtype):
            out = self._run(route, torch.cat([xs, xt]) if len(xt) else xs)
        return tuple(t.float() for t in out)

    def _source_loss(self, logits: torch.Tensor, ys: torch.Tensor,
                     n: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not len(ys):  # a chunk of a split step with target images only
            return logits.new_zeros(()), logits.new_zeros(2)
        loss = self.kind.loss(logits, ys, self.label_smoothing)
        stats = torch.stack([self.plain(logits, ys, loss) * len(ys), self.kind.correct(logits, ys)])
        return loss * (len(ys) / n), stats

    def _dann(self, part: Parts, sizes: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys, xt, _ = part
        adapting = bool(len(xt)) and self.domain is not None
        coeff = self.adapt_weight * dann_ramp(self._progress()) if adapting else None
        feats, logits, *rest = self._features(xs, xt, coeff)
        loss, stats = self._source_loss(logits, ys, sizes[0])
        if rest:
            domain = rest[0].squeeze(1)
            is_target = torch.cat([feats.new_zeros(len(xs)), feats.new_ones(len(xt))])
            loss = loss + F.binary_cross_entropy_with_logits(
                domain, is_target, reduction="sum") / sum(sizes)
        return loss, stats

    def _coral(self, part: Parts, sizes: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys, xt, _ = part
        feats, logits = self._features(xs, xt)
        loss, stats = self._source_loss(logits, ys, sizes[0])
        if len(xs) > 1 and len(xt) > 1:
            gap = coral_loss(feats[: len(xs)], feats[len(xs):])
            loss = loss + self.adapt_weight * gap
        return loss, stats
