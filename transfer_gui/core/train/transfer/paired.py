"""Wiring a second folder into a training run: paired batches, the stepper, target accuracy.

What an epoch is: one pass over the labelled folder whose loss always counts, the source.
Joint training: the source folder (`transfer.source_dir`) drives the epoch and the run's own
training images (the target) are the partner; adaptation: the run's own training images (the
source) drive it and the unlabelled target images are the partner. The partner's batches cycle
through passes in a shuffled order, each pass numbered from the epoch alone
(`(epoch - 1) * passes_per_epoch + k`), so an epoch never depends on the one before it and a
resumed run draws exactly the batches an uninterrupted one would. Validation is always the
run's own validation split; adaptation with labelled target images also reports the accuracy
on all target images.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch

from ...data.datasets import unreadable_indices
from ...data.scan import Sample
from ...events import CancelToken, Message, emit
from ...models.backbones import TransferNet
from ..prepare import Prepared
from ..sources import build_source
from ..steps import Stepper, evaluate_batches
from .adapt import DomainClassifier, PairedStepper, domain_param_groups
from .secondfolder import SecondFolder

Batch = tuple[torch.Tensor, torch.Tensor]
Report = Callable[[list[Sample], list[int]], None]


class RunParts(Protocol):
    """What of a training run the pairing uses (`training._Run` has it)."""

    prep: Prepared
    model: TransferNet
    optimizer: torch.optim.Optimizer
    device: torch.device
    dtype: torch.dtype | None
    channels_last: bool
    use_features: bool
    callbacks: list
    cancel: CancelToken | None

    def report_unreadable(self, samples: list[Sample], indices: list[int]) -> None: ...


class Cleaner:
    """Takes the images that failed to load out of a batch and reports them by file."""

    def __init__(self, samples: list[Sample], report: Report, active: bool = True) -> None:
        self.samples, self.report, self.active = samples, report, active

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> Batch:
        if not self.active:  # cached features: unreadable files were left out already
            return x, y
        bad = y < 0
        if not bool(bad.any()):
            return x, y
        self.report(self.samples, unreadable_indices(y))
        return x[~bad], y[~bad]


class PairedBatches:
    """A batch source (like `batches.ImageBatches`) whose training batches come in pairs:
    (x, y, partner) with partner = (x, y) of the other folder, or None when it has no part
    in the loss."""

    def __init__(self, own: Any, lead: Any, clean_lead: Cleaner, partner: Any | None,
                 clean_partner: Cleaner) -> None:
        self.own, self.lead, self.partner = own, lead, partner
        self.clean_lead, self.clean_partner = clean_lead, clean_partner

    @property
    def steps_per_epoch(self) -> int:
        return self.lead.steps_per_epoch

    def train_epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor, Any]]:
        stream = self._partner_batches(epoch) if self.partner is not None else None
        try:
            for x, y in self.lead.train_epoch(epoch):
                x, y = self.clean_lead(x, y)
                yield x, y, next(stream) if stream is not None else None
        finally:
            if stream is not None:
                stream.close()

    def _partner_batches(self, epoch: int) -> Iterator[Batch]:
        passes = -(-self.steps_per_epoch // max(self.partner.steps_per_epoch, 1))
        for number in itertools.count((epoch - 1) * passes + 1):
            for x, y in self.partner.train_epoch(number):
                yield self.clean_partner(x, y)

    def val_batches(self) -> Iterator[Batch]:
        return self.own.val_batches()

    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor:
        return self.own.forward(model, x)


class Pairing:
    """The second folder's part in a run: built when the run is, before its optimizer state
    is restored (a DANN domain classifier adds its parameters to the optimizer)."""

    def __init__(self, run: RunParts) -> None:
        self.run = run
        assert run.prep.second is not None
        self.second: SecondFolder = run.prep.second
        self.transfer = run.prep.config.transfer
        self.domain: DomainClassifier | None = None
        self.target: Any = None  # the second folder's batch source, for target accuracy
        self.paired: PairedBatches | None = None
        if self.transfer.mode == "dann":
            self._add_domain_classifier()

    def _add_domain_classifier(self) -> None:
        run, train = self.run, self.run.prep.config.train
        with torch.random.fork_rng(devices=[]):  # the same classifier whatever ran before
            torch.manual_seed(train.seed + 7)  # a seed of its own, apart from the model's
            self.domain = DomainClassifier(run.model.feature_dim).to(run.device)
        assert train.lr is not None
        for group in domain_param_groups(self.domain, train.lr, train.weight_decay):
            run.optimizer.add_param_group(group)

    # --- checkpoint ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self.domain is None:
            return {}
        return {"domain": {k: v.detach().cpu().clone()
                           for k, v in self.domain.state_dict().items()}}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        if self.domain is not None and "domain" in checkpoint:
            self.domain.load_state_dict(checkpoint["domain"])

    # --- batches and steps --------------------------------------------------------------------

    def batches(self, own: Any) -> PairedBatches:
        """Pair the run's own batch source `own` with the second folder's."""
        run, second = self.run, self.second
        other, prep = self._second_source()
        cleaning = not run.use_features
        own_clean = Cleaner(run.prep.train, run.report_unreadable, cleaning)
        other_clean = Cleaner(prep.train, run.report_unreadable, cleaning)
        if second.is_source:  # joint: the source drives the epoch, the target partners it
            partner = own if self.transfer.target_weight > 0 else None
            self.paired = PairedBatches(own, other, other_clean, partner, own_clean)
        else:
            self.target = other if second.labelled else None
            self.paired = PairedBatches(own, own, own_clean, other, other_clean)
        emit(run.callbacks, Message("info", self._describe()))
        return self.paired

    def _describe(self) -> str:
        t, second, own = self.transfer, self.second, len(self.run.prep.train)
        if second.is_source:
            partner = (f"a batch of the {own} target training images" if t.target_weight > 0
                       else "no target images (target weight 0: source-only training)")
            return (f"joint training: an epoch is one pass over the {len(second.train)} source "
                    f"images; each step adds {partner}; loss = {t.source_weight:g} * source + "
                    f"{t.target_weight:g} * target")
        return (f"domain adaptation ({t.mode.upper()}, weight {t.adapt_weight:g}): an epoch is "
                f"one pass over the {own} source training images; each step adds a batch of the "
                f"{len(second.train)} unlabelled target images")

    def _second_source(self) -> tuple[Any, Prepared]:
        run, second = self.run, self.second
        prep = dataclasses.replace(run.prep, train=second.train, val=second.labelled)
        unreadable: dict[str, list[int]] = {}
        source = build_source(prep, run.device, run.dtype, run.channels_last, run.use_features,
                              run.callbacks, run.cancel, unreadable)
        run.report_unreadable(prep.train, unreadable.get("train", []))
        run.report_unreadable(prep.val, unreadable.get("val", []))
        return source, prep

    def stepper(self, *args: Any, **kwargs: Any) -> PairedStepper:
        """A `PairedStepper`, built with `Stepper`'s arguments (after `batches`)."""
        assert self.paired is not None
        total = (self.run.prep.config.train.epochs or 1) * self.paired.steps_per_epoch
        return PairedStepper(*args, transfer=self.transfer, total_steps=total,
                             domain=self.domain, **kwargs)

    def target_accuracy(self, stepper: Stepper, check: Callable[[], None]) -> float | None:
        """Accuracy on the labelled target images, or None without target labels."""
        if self.target is None:
            return None
        clean = Cleaner(self.second.labelled, self.run.report_unreadable)
        batches = (clean(x, y) for x, y in self.target.val_batches())
        _, acc = evaluate_batches(stepper, ((x, y) for x, y in batches if len(y)), check)
        return acc
