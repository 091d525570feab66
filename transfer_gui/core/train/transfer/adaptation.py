"""Domain adaptation's last step and its account, as a hook of the run.

When a run with a target folder ends (completed or early-stopped), `Adaptation`:

* takes the model to adapt: after DANN or CORAL the last epoch's (the target's labels are
  never seen, so the source's validation split cannot say which epoch suits the target best;
  it keeps the last, as the method intends), otherwise the best epoch's;
* applies the statistics steps of the mode in order (`statistics`): AdaBN, then feature
  alignment (source features with the source's body, target features with the adapted one);
* saves the adapted weights as the run's model, the alignment's statistics beside them, and
  in `run.json` ("adaptation") the method, whether "auto" chose it, the time, and, when the
  target folder has labels, the target accuracy before adaptation (the source-only model: the
  probe a gradient method starts from, else the trained model) and after.

The probe epoch of a probe-first run also gets its target accuracy (from the feature cache),
so the Train page's dashed target curve starts at source-only.

On several processes every statistics pass is shared (`passes`): each process passes over its
part of a folder and the features (and AdaBN's running statistics) are gathered, so every
process adapts the same model to the same figures as one process would, the target accuracy
is over the whole target folder, and rank 0 alone writes the adapted weights, the alignment's
statistics and the note.
"""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from ...io import bundle
from ...models.weights import load_into, read_state_dict
from ..hooks import FitState, Hook
from ..recipe import autocast
from ..runrecord import RunRecord
from .paired import PairedBatches
from .passes import FolderPass, head_accuracy
from .statistics import ALIGNMENT, NO_BATCHNORM, Alignment, adabn, fold_alignment

STATISTICS = ("adabn", "align")


class Adaptation(Hook):
    """The statistics methods and what adaptation bought: each epoch's target accuracy once the
    probe (or the paired steps) filled the row, before the best-epoch rule and the record read
    it; at the end the adapted model, saved before the record closes."""

    name = "adaptation"
    reads = frozenset({"source", "model", "row", "stop", "best"})
    writes = frozenset({"row", "model", "notes"})
    after = ("pairing", "probe", "in-step", "classic")
    before = ("best", "record")

    def __init__(self, fit: FitState, record: RunRecord) -> None:
        second = fit.prep.second
        assert second is not None and not second.is_source
        self.record = record
        self.transfer = fit.prep.config.transfer
        self.steps = [s for s in self.transfer.steps if s in STATISTICS]
        self.labels = [s.label for s in second.labelled]
        self.target: FolderPass | None = None  # built once the run has its state
        self.source: FolderPass | None = None
        self.acc_before: float | None = None
        self.frozen_feats: Any = None  # the pretrained body's target features

    def on_fit_start(self, fit: FitState) -> None:
        """Later passes over either folder reuse the images training decoded (both folders'
        batch sources of a DANN or CORAL run): no image is decoded twice."""
        assert fit.prep.second is not None
        paired = fit.source if isinstance(fit.source, PairedBatches) else None
        own, other = (paired.own, paired.partner) if paired is not None else (None, None)
        self.source = FolderPass(fit, fit.prep.train, _decoded(own))
        self.target = FolderPass(fit, fit.prep.second.train, _decoded(other),
                                 again="adabn" in self.steps)

    def _passes(self, fit: FitState) -> tuple[FolderPass, FolderPass]:
        if self.target is None or self.source is None:
            self.on_fit_start(fit)
        assert self.source is not None and self.target is not None
        return self.source, self.target

    def on_epoch_end(self, fit: FitState) -> None:
        """The target accuracy of a probe epoch, and of every epoch of a frozen body's run
        (from cached features: the target's pass through the body happens once)."""
        row = fit.row
        if row is None or not self.labels or row.get("target_acc") is not None:
            return
        if row.get("stage") == "probe" or (fit.use_features and self.transfer.gradient is None):
            if self.frozen_feats is None:
                self.frozen_feats = self._passes(fit)[1].features()
            row["target_acc"] = head_accuracy(fit, self.frozen_feats, self.labels)
            if row.get("stage") == "probe":
                self.acc_before = row["target_acc"]

    def on_fit_end(self, fit: FitState) -> None:
        if fit.stop not in ("completed", "early-stopped") or not fit.run.history:
            return
        started = time.perf_counter()
        gradient = self.transfer.gradient
        if gradient is None:
            self._load_best(fit)
        fit.ranks.share_module(fit.model)  # every process adapts rank 0's model
        source, target = self._passes(fit)
        note: dict[str, Any] = {"method": self.transfer.mode, "auto": self.transfer.auto,
                                "kept": "last epoch" if gradient else "best epoch",
                                "statistics": self.steps}
        first = fit.run.history[0]
        if self.acc_before is None and first.get("stage") == "probe":  # also after a resume
            self.acc_before = first.get("target_acc")
        feats = target.features() if self.labels or self.steps else None
        accuracy: dict[str, float] = {}  # the target accuracy after each step
        if self.labels and feats is not None:
            trained = head_accuracy(fit, feats, self.labels)
            if gradient is None:
                self.acc_before = trained  # the trained model is the source-only one
            else:
                accuracy[gradient] = trained
        if self.steps:
            self._statistics(fit, source, target, feats, note, accuracy)
        self._save(fit, note)
        note.update(seconds=round(time.perf_counter() - started, 3),
                    target_acc_before=self.acc_before,
                    target_acc_after=list(accuracy.values())[-1] if accuracy else None,
                    target_acc_steps=accuracy)
        fit.notes["adaptation"] = note
        fit.task.message("info", _sentence(note))

    def _load_best(self, fit: FitState) -> None:
        """The best epoch's weights, as rank 0 wrote them (the other processes of a
        distributed run then take rank 0's model, not a file it may still be writing; on
        CPUs their BatchNorm statistics differ from rank 0's too)."""
        path = self.record.out / bundle.WEIGHTS
        if fit.ranks.main and path.is_file():
            load_into(fit.model, read_state_dict(path), str(path))
            fit.model.to(fit.device)

    def _statistics(self, fit: FitState, source: FolderPass, target: FolderPass,
                    feats: Any, note: dict[str, Any], accuracy: dict[str, float]) -> None:
        """Apply AdaBN and/or alignment (`feats`: the trained model's target features)."""
        source_feats = source.features() if "align" in self.steps else None
        if "adabn" in self.steps:
            layers = adabn(fit.model.body, (x for x in target.images() if len(x) > 1),
                           fit.ranks.sum if fit.ranks.many else None)
            note["adabn_layers"] = layers
            if not layers:
                fit.task.message("warning", f"AdaBN: {NO_BATCHNORM}")
            feats = target.features()
            if self.labels:
                accuracy["adabn"] = head_accuracy(fit, feats, self.labels)
        if source_feats is not None:
            alignment = Alignment.between(source_feats, feats)
            fold_alignment(fit.model.head, alignment, source_feats)
            if fit.ranks.main:  # the one writer of the run folder
                alignment.save(self.record.out)
            note["alignment"] = ALIGNMENT
            if self.labels:
                accuracy["align"] = head_accuracy(fit, feats, self.labels)

    def _save(self, fit: FitState, note: dict[str, Any]) -> None:
        """The adapted model becomes the run's model (`record.saved` names its epoch)."""
        if not self.steps and self.transfer.gradient is None:
            return
        history = fit.run.history
        row = history[-1] if self.transfer.gradient else history[
            (self.record.saved.epoch or len(history)) - 1 if self.record.saved else -1]
        if self.steps:  # the statistics changed the model: the figures must be its own
            note["val_acc_trained"] = row.get("val_acc")
            row = {**row, **validation(fit, self.source.cache if self.source else None)}
        self.record.keep_model(row)  # what rank 0 writes; the others write nothing
        note["epoch"] = row["epoch"]


def validation(fit: FitState, cache: Any = None) -> dict[str, float]:
    """The model's validation loss and accuracy as it is now (the adapted model), measured as
    the loop measures an epoch's: plain cross-entropy on the run's validation split. `cache`:
    the decoded images training holds (the validation images among them)."""
    val = fit.prep.val
    if not val:
        return {}
    feats = FolderPass(fit, val, cache).features()
    labels = torch.tensor([s.label for s in val])
    fit.model.eval()
    with torch.inference_mode(), autocast(fit.device, fit.dtype):
        logits = fit.model.head(feats.to(fit.device)).float().cpu()
    return {"val_acc": float((logits.argmax(1) == labels).float().mean()),
            "val_loss": float(F.cross_entropy(logits, labels))}


def _sentence(note: dict[str, Any]) -> str:
    text = f"domain adaptation ({note['method']}{', chosen by auto' if note['auto'] else ''})"
    before, after = note.get("target_acc_before"), note.get("target_acc_after")
    if before is not None and after is not None:
        text += (f": target accuracy {before:.1%} before adaptation, {after:.1%} after "
                 f"({100 * (after - before):+.1f} points)")  # a difference of shares
    return text + f"; the saved model (epoch {note.get('epoch', '?')}) is for target images"


def _decoded(source: Any) -> Any:
    """The decoded-image cache of an image batch source's training images (else None)."""
    return getattr(getattr(source, "train", None), "cache", None)
