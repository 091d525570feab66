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
from collections.abc import Generator, Iterator
from functools import partial
from typing import Any

import torch

from ...data.batches import Batch
from ...models.backbones import TransferNet
from ..dist.parts import distributed
from ..epochs import evaluate
from ..hooks import FitState, Hook
from ..prepare import Prepared
from ..sources import build_source
from .paired_steps import DomainClassifier, PairedStepper, domain_param_groups
from .secondfolder import SecondFolder


class PairedBatches:
    """A batch source (like `batches.ImageBatches`) whose training batches come in pairs: the
    batch of the folder that drives the epoch, with the other folder's as its `partner` (None
    when that has no part in the loss)."""

    def __init__(self, own: Any, lead: Any, partner: Any | None) -> None:
        self.own, self.lead, self.partner = own, lead, partner

    @property
    def steps_per_epoch(self) -> int:
        return self.lead.steps_per_epoch

    def train_epoch(self, epoch: int) -> Iterator[Batch]:
        stream = (self._partner_batches(self.partner, epoch) if self.partner is not None
                  else None)
        try:
            for batch in self.lead.train_epoch(epoch):
                partner = next(stream) if stream is not None else None
                yield dataclasses.replace(batch, partner=partner)
        finally:
            if stream is not None:
                stream.close()

    def _partner_batches(self, partner: Any, epoch: int) -> Generator[Batch, None, None]:
        passes = -(-self.steps_per_epoch // max(partner.steps_per_epoch, 1))
        for number in itertools.count((epoch - 1) * passes + 1):
            yield from partner.train_epoch(number)

    def val_batches(self) -> Iterator[Batch]:
        return self.own.val_batches()

    def forward(self, model: TransferNet, x: torch.Tensor) -> torch.Tensor:
        return self.own.forward(model, x)


class Pairing(Hook):
    """The second folder's part in a run, as a hook: built with the run's optimizer, before
    its state is restored (a DANN domain classifier adds its parameters to it); when the run
    starts it pairs the batches and steps, after each epoch it measures the target accuracy."""

    name = "pairing"
    reads = frozenset({"model"})
    writes = frozenset({"source", "row"})
    before = ("stages", "probe", "best", "record")

    def __init__(self, prep: Prepared, model: TransferNet, optimizer: torch.optim.Optimizer,
                 device: torch.device) -> None:
        assert prep.second is not None
        self.second: SecondFolder = prep.second
        self.transfer = prep.config.transfer
        self.domain: DomainClassifier | None = None
        self.target: Any = None  # the second folder's batch source, for target accuracy
        if self.transfer.gradient == "dann":
            train = prep.config.train
            with torch.random.fork_rng(devices=[]):  # the same classifier whatever ran before
                torch.manual_seed(train.seed + 7)  # a seed of its own, apart from the model's
                self.domain = DomainClassifier(model.feature_dim).to(device)
            assert train.lr is not None
            for group in domain_param_groups(self.domain, train.lr, train.weight_decay):
                optimizer.add_param_group(group)

    # --- checkpoint ---------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        if self.domain is None:
            return {}
        return {"domain": {k: v.detach().cpu().clone()
                           for k, v in self.domain.state_dict().items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.domain is not None and "domain" in state:
            self.domain.load_state_dict(state["domain"])

    # --- the hook -----------------------------------------------------------------------------

    def on_fit_start(self, fit: FitState) -> None:
        """Pair the run's own batch source with the second folder's, and the steps."""
        own, second = fit.source, self.second
        other = self._second_source(fit)
        if second.is_source:  # joint: the source drives the epoch, the target partners it
            partner = own if self.transfer.target_weight > 0 else None
            fit.source = PairedBatches(own, other, partner)
        else:
            self.target = other if second.labelled else None
            fit.source = PairedBatches(own, own, other)
        fit.task.message("info", self._describe(len(fit.prep.train)))
        epochs = fit.epochs - int(bool(fit.prep.config.train.probe_first))  # a probe: no steps
        total = max(epochs, 1) * fit.batch_source.steps_per_epoch
        stepper: type[PairedStepper] = distributed(PairedStepper, fit.ranks)
        fit.make_stepper = partial(stepper, transfer=self.transfer, total_steps=total,
                                   domain=self.domain)

    def on_epoch_end(self, fit: FitState) -> None:
        """The accuracy on the labelled target images (adaptation with target labels)."""
        if self.target is not None and fit.row is not None and fit.row.get("stage") != "probe":
            fit.row["target_acc"] = evaluate(fit, self.target.val_batches()).acc

    def _describe(self, own: int) -> str:
        t, second = self.transfer, self.second
        if second.is_source:
            partner = (f"a batch of the {own} target training images" if t.target_weight > 0
                       else "no target images (target weight 0: source-only training)")
            return (f"joint training: an epoch is one pass over the {len(second.train)} source "
                    f"images; each step adds {partner}; loss = {t.source_weight:g} * source + "
                    f"{t.target_weight:g} * target")
        return (f"domain adaptation ({t.mode.upper()}, weight {t.adapt_weight or 0:g}): an "
                f"epoch is one pass over the {own} source training images; each step adds a batch "
                f"of the {len(second.train)} unlabelled target images; with fine-tune, the top "
                + ("layer group adapts" if (t.adapt_layers or 1) == 1
                   else f"{t.adapt_layers} layer groups adapt"))

    def _second_source(self, fit: FitState) -> Any:
        second = self.second
        prep = dataclasses.replace(fit.prep, train=second.train, val=second.labelled)
        source = build_source(fit, prep)
        fit.skip_failed(getattr(source, "failed", ()))
        return source
