"""A run's curves in TensorBoard, as a hook of the loop (`TensorBoard`).

Per epoch (global step: the epoch): `loss/train`, `loss/validation`, `accuracy/train`,
`accuracy/validation`, `accuracy/target` (adaptation with labelled target images),
`epoch/learning_rate` (the rate the run records for the epoch; not for a classic head, which
has none), `epoch/images_per_s` and `epoch/seconds`. Per optimizer step (global step: the
run's step count): `step/loss` and `step/learning_rate`. When a run ends completed or early
stopped, `confusion_matrix/validation`: the final epoch's model on the validation split (one
pass), drawn as an image, at that epoch.

A step's loss stays on the device until its epoch ends, so logging costs no wait for the
GPU; the steps are written with their epoch, after its checkpoint, so a stopped run that
resumes appends to the same log and never writes a step twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.confusion import confusion_image, confusion_matrix
from ..errors import UserError
from ..wording import install_hint
from .hooks import FitState, Hook
from .recipe import autocast

INSTALL = install_hint("tensorboard")
MISSING = f"TensorBoard logging needs the tensorboard package: {INSTALL}"
EPOCH_TAGS = {"train_loss": "loss/train", "val_loss": "loss/validation",
              "train_acc": "accuracy/train", "val_acc": "accuracy/validation",
              "target_acc": "accuracy/target", "images_per_s": "epoch/images_per_s",
              "seconds": "epoch/seconds"}
CONFUSION_TAG = "confusion_matrix/validation"


class TensorBoardMissing(UserError, RuntimeError):
    """TensorBoard logging was asked for, and the tensorboard package is not installed."""


def tensorboard_problem() -> str | None:
    """Why runs cannot log to TensorBoard here (the package is missing), or None."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return MISSING
    return None


def require_tensorboard() -> None:
    """Raise `TensorBoardMissing` when the tensorboard package is missing."""
    problem = tensorboard_problem()
    if problem:
        raise TensorBoardMissing(problem)


def viewing_hint(log_dir: str | Path) -> str:
    """Where a run's logs go and how to see them, in words."""
    folder = Path(log_dir)
    return f"TensorBoard logs: {folder} — view with `tensorboard --logdir {folder.parent}`"


class TensorBoard(Hook):
    """Writes the run's scalars (and its confusion matrix at the end) into `log_dir`: each
    epoch once the record has kept it (the confusion matrix reads how the run stopped)."""

    name = "tensorboard"
    reads = frozenset({"source", "model", "row", "stop"})
    after = ("record",)
    before = ("early-stopping",)

    def __init__(self, log_dir: str | Path) -> None:
        require_tensorboard()
        self.log_dir = Path(log_dir)
        self.writer: Any = None
        self.steps: list[tuple[int, torch.Tensor, int, float]] = []

    def on_fit_start(self, fit: FitState) -> None:
        from torch.utils.tensorboard import SummaryWriter

        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.log_dir))
        except OSError as exc:  # the run goes on; only its log is lost
            fit.task.message("warning", f"TensorBoard: cannot write {self.log_dir} ({exc}); "
                                        "this run is not logged")
            return
        fit.task.message("info", viewing_hint(self.log_dir))
        if fit.run.epoch == 0:  # a resumed run wrote its configuration when it started
            config = json.dumps(fit.prep.config.to_dict(), indent=2)
            self.writer.add_text("run/config", f"```\n{config}\n```", 0)

    def on_epoch_start(self, fit: FitState) -> None:
        self.steps = []

    def on_batch_end(self, fit: FitState) -> None:
        assert fit.stats is not None and fit.batch is not None
        if self.writer is not None:
            self.steps.append((fit.run.step, fit.stats, len(fit.batch.y), fit.lr))

    def on_epoch_end(self, fit: FitState) -> None:
        row, writer = fit.row, self.writer
        assert row is not None
        if writer is None:
            return
        if self.steps:
            losses = torch.stack([s[1][0] / max(s[2], 1) for s in self.steps]).tolist()
            for (step, _, _, lr), loss in zip(self.steps, losses, strict=True):
                writer.add_scalar("step/loss", loss, step)
                writer.add_scalar("step/learning_rate", lr, step)
        self.steps = []
        for key, tag in EPOCH_TAGS.items():
            if row.get(key) is not None:
                writer.add_scalar(tag, float(row[key]), fit.epoch)
        if fit.optimizer is not None:  # a classic head has no learning rate
            writer.add_scalar("epoch/learning_rate", float(row["lr"]), fit.epoch)
        writer.flush()

    def on_fit_end(self, fit: FitState) -> None:
        if self.writer is None:
            return
        try:
            if fit.stop in ("completed", "early-stopped") and fit.run.epoch:
                self._confusion(fit)
        except Exception as exc:  # noqa: BLE001 - the run itself has ended well
            fit.task.message("warning", f"TensorBoard: no confusion matrix ({exc})")
        finally:
            self.writer.close()
            self.writer = None

    def on_fit_failed(self, fit: FitState) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _confusion(self, fit: FitState) -> None:
        targets, preds = validation_predictions(fit)
        if not len(targets):
            return  # no validation split
        classes = list(fit.prep.classes)
        matrix = confusion_matrix(targets, preds, len(classes))
        self.writer.add_image(CONFUSION_TAG, confusion_image(matrix, classes), fit.run.epoch,
                              dataformats="HWC")


@torch.no_grad()
def validation_predictions(fit: FitState) -> tuple[np.ndarray, np.ndarray]:
    """(true, predicted) labels of the validation split with the model as it is now, from
    the run's batch source (a classic head, fitted in 32 bits, is run in 32 bits)."""
    fit.model.eval()
    dtype = fit.dtype if fit.optimizer is not None else None
    targets, preds = [], []
    for batch in fit.batch_source.val_batches():
        if len(batch.y):
            with autocast(fit.device, dtype):
                logits = fit.batch_source.forward(fit.model, batch.x)
            targets.append(batch.y.cpu())
            preds.append(logits.argmax(1).cpu())
    if not targets:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return torch.cat(targets).numpy(), torch.cat(preds).numpy()
