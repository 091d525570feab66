"""Training: `Trainer().fit(config, out_dir, callbacks, cancel)`.

The call is synchronous and thread-agnostic: a GUI runs it in a worker thread, the CLI and the
tests call it directly. Progress goes to callbacks as small events. The cancel token is checked
between batches and inside the model's forward and backward passes, so Stop is prompt even in
the middle of a slow batch. Every finished epoch is checkpointed (so a stopped or killed run
can resume and end exactly as if it had not stopped), the best weights are kept in the run
folder, and a cancelled or failed run keeps them and says where they are.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..config import CLASSIC_STRATEGIES, ConfigError, RunConfig
from ..data.datasets import unreadable_indices
from ..data.images import why_unusable
from ..data.scan import FolderScan, Sample
from ..events import Cancelled, CancelToken, EpochEnded, FitEnded, FitStarted, Message, check, emit
from ..interrupt import cancel_points
from ..io import bundle
from ..io.runlock import writes_run_folder
from ..models.layers import body_frozen, count_params, train_mode
from ..wording import count
from .autobatch import settle_batch_size
from .lpft import KEPT_PROBE, fit_probe
from .prepare import Prepared, prepare, resume_config, saved_split
from .recipe import (
    amp_dtype,
    channels_last_for,
    configure_device,
    device_label,
    lr_ratio_for,
    make_optimizer,
    make_scheduler,
    maybe_compile,
    pick_device,
)
from .runrecord import FitResult, RunRecord, TrainingFailed, failure_text
from .sources import build_source
from .stages import Stages
from .steps import EpochMeter, Stepper, evaluate_batches
from .transfer.paired import Pairing
from .transfer.secondfolder import attach_second, save_second

__all__ = ["FitResult", "Prepared", "Trainer", "TrainingFailed", "prepare", "resume_config"]


class Trainer:
    """Runs one training configuration to completion, cancellation or failure."""

    @writes_run_folder  # one writer per run folder: a second one is refused at once
    def fit(
        self,
        config: RunConfig | None,
        out_dir: str | Path,
        callbacks: Iterable = (),
        cancel: CancelToken | None = None,
        resume: bool = False,
        scan: FolderScan | None = None,
    ) -> FitResult:
        """Train into `out_dir`. With `resume`, continue the run folder from its last finished
        epoch with its saved configuration and split (`config` is not used); a run killed
        before its first epoch ended starts again from epoch 1. A failure raises
        `TrainingFailed` after recording it; every other ending emits `FitEnded`. `scan`
        reuses a scan of the data folder made earlier (the GUI's Data page)."""
        callbacks = list(callbacks)
        out = Path(out_dir)
        started = time.perf_counter()
        if resume:
            config = resume_config(out)
            checkpoint = bundle.load_checkpoint(out) if bundle.has_checkpoint(out) else None
        elif (out / bundle.META).exists():
            raise bundle.RunError(f"{out} already holds a run: resume it or choose a new folder")
        elif config is None:
            raise ConfigError("a new run needs a configuration")
        config = config.resolved()
        try:
            prep = prepare(config, callbacks, cancel, saved_split(out) if resume else None,
                           None if resume else scan)
            prep = attach_second(prep, out if resume else None, callbacks, cancel)
        except Cancelled:  # while scanning the folder or fetching weights
            return _stopped_early(out, callbacks, time.perf_counter() - started)
        device = pick_device(config.train.device)
        if config.model.strategy in CLASSIC_STRATEGIES:
            from .classic import fit_classic

            return fit_classic(prep, out, device, callbacks, cancel)
        if not resume:  # a resumed run keeps the batch size it was started with
            prep = settle_batch_size(prep, device, amp_dtype(device, config.train.mixed_precision),
                                     channels_last_for(device), callbacks)
        run = _Run(prep, out, device, callbacks, cancel)
        if resume:
            run.restore(checkpoint)
        else:
            run.record.write_start(prep)
            save_second(out, prep)
        return run.loop(started)


def _stopped_early(out: Path, callbacks: list, seconds: float) -> FitResult:
    message = "stopped by the user before training started"
    emit(callbacks, FitEnded("cancelled", 0, None, None, None, seconds, str(out), message))
    return FitResult("cancelled", str(out), [], None, None, None, seconds, message)


class _Run:
    """One training run's moving parts; `Trainer.fit` builds it and calls `loop`."""

    def __init__(self, prep: Prepared, out: Path, device: torch.device, callbacks: list,
                 cancel: CancelToken | None) -> None:
        self.prep, self.out, self.device = prep, out, device
        self.callbacks, self.cancel = callbacks, cancel
        self.train_cfg = prep.config.train
        self.model = prep.model.to(device)
        configure_device(device)
        self.channels_last = channels_last_for(device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.dtype = amp_dtype(device, self.train_cfg.mixed_precision)
        self.record = RunRecord(out, self.model, device_label(device))
        self.callbacks = [*callbacks, self.record.steps]  # the run folder keeps every step
        self.use_features = (self.train_cfg.cache_features and self.train_cfg.augment == "none"
                             and body_frozen(self.model))
        self.source: Any = None
        self.stepper: Stepper | None = None
        ratio = lr_ratio_for(prep.config.model.strategy)
        self.optimizer = make_optimizer(self.model, prep.groups, self.train_cfg, ratio)
        self.scaler = torch.amp.GradScaler(enabled=self.dtype == torch.float16)
        self.stages = Stages(self.model, self.train_cfg.head_epochs or 0,
                             self.train_cfg.epochs or 1, bool(self.train_cfg.probe_first))
        self.scheduler: Any = None
        self._pending: dict[str, Any] | None = None
        self.pairing = Pairing(self) if prep.second is not None else None

    # --- setting up -------------------------------------------------------------------------

    def restore(self, checkpoint: dict[str, Any] | None) -> None:
        """Continue from `checkpoint`. The model is restored now; the optimizer and scheduler
        once the scheduler exists (building a scheduler rewrites the optimizer's rates)."""
        self.record.resume()
        if checkpoint is None:
            emit(self.callbacks, Message("info", "no finished epoch to resume from: starting "
                                                 "again from epoch 1"))
            self.record.steps.trim(0)
            return
        missing, unexpected = self.model.load_state_dict(checkpoint["model"], strict=False)
        frozen = {n for n, p in self.model.named_parameters() if not p.requires_grad}
        if unexpected or set(missing) - frozen:
            raise bundle.RunError(f"the checkpoint in {self.out} does not match this model")
        self._pending = checkpoint
        self.record.restore_state(checkpoint["state"])
        if self.pairing is not None:
            self.pairing.load_state_dict(checkpoint)

    def _make_source(self) -> None:
        unreadable: dict[str, list[int]] = {}
        self.source = build_source(self.prep, self.device, self.dtype, self.channels_last,
                                   self.use_features, self.callbacks, self.cancel, unreadable)
        for phase, indices in unreadable.items():
            self._unreadable(phase, indices)
        if self.pairing is not None:  # joint training or adaptation: batches from two folders
            self.source = self.pairing.batches(self.source)
        if not self.use_features and maybe_compile(self.model, self.train_cfg.compile):
            emit(self.callbacks, Message("info", "torch.compile: the first steps compile"))
        self._make_scheduler()
        stepper = self.pairing.stepper if self.pairing is not None else Stepper
        self.stepper = stepper(self.model, self.source.forward, self.optimizer, self.scaler,
                               self.scheduler, self.device, self.dtype,
                               self.train_cfg.label_smoothing, self.callbacks)

    def _make_scheduler(self) -> None:
        steps = self.source.steps_per_epoch
        self.scheduler = make_scheduler(self.optimizer, self.train_cfg.schedule,
                                        self.stages.total_steps(steps), self.stages.phases(steps))
        if self._pending is not None:
            self.optimizer.load_state_dict(self._pending["optimizer"])
            self.scheduler.load_state_dict(self._pending["scheduler"])
            if self.scaler.is_enabled() and self._pending.get("scaler"):
                self.scaler.load_state_dict(self._pending["scaler"])
            self._pending = None

    # --- the loop ---------------------------------------------------------------------------

    def loop(self, started: float) -> FitResult:
        self.record.clock(started)
        try:
            with cancel_points(self.model, self.cancel):
                self._make_source()
                self._emit_start()
                status = self._epochs()
        except Cancelled:
            return self._finish("cancelled", "stopped by the user")
        except KeyboardInterrupt:
            self._finish("cancelled", "aborted")
            raise
        except Exception as exc:
            result = self._finish("failed", failure_text(exc), traceback.format_exc())
            raise TrainingFailed(f"training failed: {result.message}", result.saved) from exc
        return self._finish(status, self._kept_probe())

    def _emit_start(self) -> None:
        trainable, total = count_params(self.model)
        emit(self.callbacks, FitStarted(
            epochs=self.train_cfg.epochs or 1, steps_per_epoch=self.source.steps_per_epoch,
            train_size=len(self.prep.train), val_size=len(self.prep.val),
            device=device_label(self.device), trainable_params=trainable, total_params=total,
            start_epoch=self.record.state.epoch, feature_cache=self.use_features,
        ))

    def _epochs(self) -> str:
        cfg, state = self.train_cfg, self.record.state
        epochs = cfg.epochs or 1
        while state.epoch < epochs:
            if cfg.early_stopping and state.bad_epochs >= cfg.early_stopping:
                emit(self.callbacks, Message(
                    "info", "early stopping: no improvement for "
                            f"{count(cfg.early_stopping, 'epoch')}"))
                return "early-stopped"
            self._epoch(state.epoch + 1, epochs)
        return "completed"

    def _epoch(self, epoch: int, epochs: int) -> None:
        # Everything random in an epoch (order, augmentation, dropout, DataLoader worker seeds)
        # follows from this seed, so a resumed run repeats an interrupted epoch exactly.
        torch.manual_seed(self.train_cfg.seed * 1_000_003 + epoch)
        self.stages.enter(epoch, self.callbacks)
        t0 = time.perf_counter()
        if self.stages.is_probe(epoch):
            row = fit_probe(self.prep, self.device, self.dtype, self.callbacks, self.cancel)
        else:
            row = self._train_row(epoch, t0)
        is_best = self.record.epoch_done(row, self._checkpoint)
        emit(self.callbacks, EpochEnded(
            epoch=epoch, epochs=epochs, train_loss=row["train_loss"], train_acc=row["train_acc"],
            val_loss=row["val_loss"], val_acc=row["val_acc"], lr=row["lr"],
            images_per_s=row["images_per_s"], seconds=time.perf_counter() - t0, is_best=is_best,
            target_acc=row["target_acc"],
        ))

    def _train_row(self, epoch: int, t0: float) -> dict[str, Any]:
        train_loss, train_acc, ips = self._train_epoch(epoch)
        val_loss, val_acc = self._validate()
        return {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                "val_loss": val_loss, "val_acc": val_acc, "target_acc": self._target_accuracy(),
                "lr": self._lr(), "images_per_s": ips, "seconds": time.perf_counter() - t0}

    def _kept_probe(self) -> str:
        """Say so when the probe of a probe-first run stayed the best model."""
        state = self.record.state
        if not (self.stages.probe and state.best_epoch == 1 and state.epoch > 1):
            return ""
        emit(self.callbacks, Message("warning", KEPT_PROBE))
        self.record.meta["kept_probe"] = True
        return KEPT_PROBE

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[-1]["lr"])

    def _train_epoch(self, epoch: int) -> tuple[float, float, float]:
        train_mode(self.model, bool(self.train_cfg.freeze_bn))
        assert self.stepper is not None
        lag = 1 if self.device.type == "cuda" else 0  # read each loss one step late: no sync
        meter = EpochMeter(self.callbacks, epoch, self.source.steps_per_epoch, lag)
        for x, y, *partner in self.source.train_epoch(epoch):  # partner: a second folder's
            check(self.cancel)
            x, y = self._readable("train", x, y)
            if not len(y):
                continue
            stats = self.stepper.train(x, y, *partner)
            self.record.state.step += 1
            meter.add(self.record.state.step, stats, len(y), self._lr())
        return meter.finish()

    def _validate(self) -> tuple[float | None, float | None]:
        self.model.eval()
        assert self.stepper is not None
        batches = (self._readable("val", x, y) for x, y in self.source.val_batches())
        return evaluate_batches(self.stepper, ((x, y) for x, y in batches if len(y)),
                                lambda: check(self.cancel))

    def _target_accuracy(self) -> float | None:
        if self.pairing is None:
            return None
        assert self.stepper is not None
        return self.pairing.target_accuracy(self.stepper, lambda: check(self.cancel))

    # --- files that break after the scan ----------------------------------------------------

    def _readable(self, phase: str, x: torch.Tensor,
                  y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch without the images that failed to load (negative labels)."""
        if self.use_features:
            return x, y  # unreadable files were left out of the features
        bad = y < 0
        if not bool(bad.any()):
            return x, y
        self._unreadable(phase, unreadable_indices(y))
        return x[~bad], y[~bad]

    def _unreadable(self, phase: str, indices: list[int]) -> None:
        self.report_unreadable(self.prep.train if phase == "train" else self.prep.val, indices)

    def report_unreadable(self, samples: list[Sample], indices: list[int]) -> None:
        """Name the files of `samples` at `indices` that failed to load (once each)."""
        for index in indices:
            path = samples[index].path
            reason = why_unusable(path) or "could not be read (it may have been changing)"
            if self.record.unreadable(path, reason):
                emit(self.callbacks, Message("warning", f"{path}: {reason}; left out of "
                                                        "training"))

    # --- keeping results --------------------------------------------------------------------

    def _checkpoint(self) -> dict[str, Any]:
        keep = set(self.stages.trainable)  # all that trains in any stage
        keep |= {n for n, _ in self.model.named_buffers()}
        model_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
                       if k in keep}
        return {"model": model_state, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                **(self.pairing.state_dict() if self.pairing is not None else {})}

    def _finish(self, status: str, message: str, details: str = "") -> FitResult:
        result = self.record.finish(status, message, details)
        state = self.record.state
        emit(self.callbacks, FitEnded(status, state.epoch, result.best_epoch,
                                      result.best_val_acc, result.best_val_loss, result.seconds,
                                      str(self.out), result.message))
        return result
