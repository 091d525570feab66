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
import torch.nn.functional as F

from . import bundle
from .batches import FeatureBatches, ImageBatches, extract_features
from .config import ConfigError, RunConfig
from .data import FolderScan, Sample
from .datasets import ImageDataset, eval_transform, train_transform, unreadable_indices
from .events import (
    BatchEnded,
    Cancelled,
    CancelToken,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    check,
    emit,
)
from .images import why_unusable
from .interrupt import cancel_points
from .layers import body_frozen, count_params, train_mode
from .prepare import Prepared, prepare, resume_config, saved_split
from .recipe import (
    amp_dtype,
    autocast,
    default_workers,
    device_label,
    lr_ratio_for,
    make_optimizer,
    make_scheduler,
    pick_device,
)
from .runrecord import FitResult, RunRecord, TrainingFailed

__all__ = ["FitResult", "Prepared", "Trainer", "TrainingFailed", "prepare", "resume_config"]


class Trainer:
    """Runs one training configuration to completion, cancellation or failure."""

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
        except Cancelled:  # while scanning the folder or fetching weights
            return _stopped_early(out, callbacks, time.perf_counter() - started)
        run = _Run(prep, out, pick_device(config.train.device), callbacks, cancel)
        if resume:
            run.restore(checkpoint)
        else:
            run.record.write_start(prep)
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
        self.channels_last = device.type == "cuda"
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.dtype = amp_dtype(device, self.train_cfg.mixed_precision)
        self.record = RunRecord(out, self.model, device_label(device))
        self.use_features = (self.train_cfg.cache_features and self.train_cfg.augment == "none"
                             and body_frozen(self.model))
        self.source: Any = None
        self.datasets: dict[str, ImageDataset] = {}
        ratio = lr_ratio_for(prep.config.model.strategy, prep.config.model.lr_ratio)
        self.optimizer = make_optimizer(self.model, prep.groups, self.train_cfg, ratio)
        self.scaler = torch.amp.GradScaler(enabled=self.dtype == torch.float16)
        self.scheduler: Any = None
        self._pending: dict[str, Any] | None = None

    # --- setting up -------------------------------------------------------------------------

    def restore(self, checkpoint: dict[str, Any] | None) -> None:
        """Continue from `checkpoint`. The model is restored now; the optimizer and scheduler
        once the scheduler exists (building a scheduler rewrites the optimizer's rates)."""
        self.record.resume()
        if checkpoint is None:
            emit(self.callbacks, Message("info", "no finished epoch to resume from: starting "
                                                 "again from epoch 1"))
            return
        missing, unexpected = self.model.load_state_dict(checkpoint["model"], strict=False)
        frozen = {n for n, p in self.model.named_parameters() if not p.requires_grad}
        if unexpected or set(missing) - frozen:
            raise bundle.RunError(f"the checkpoint in {self.out} does not match this model")
        self._pending = checkpoint
        self.record.restore_state(checkpoint["state"])

    def _make_source(self) -> None:
        prep, cfg = self.prep, self.train_cfg
        pre = prep.preprocess
        self.datasets["val"] = ImageDataset(prep.val, pre, eval_transform(pre))
        workers = cfg.num_workers if cfg.num_workers is not None else default_workers(self.device)
        if self.use_features:
            self.datasets["train"] = ImageDataset(prep.train, pre, eval_transform(pre))
            self.source = self._feature_source(workers)
        else:
            augment = train_transform(pre, cfg.augment or "none")
            self.datasets["train"] = ImageDataset(prep.train, pre, augment)
            self.source = ImageBatches(self.datasets["train"], self.datasets["val"],
                                       cfg.batch_size, cfg.seed, workers, self.device,
                                       self.channels_last)
        self._make_scheduler()

    def _feature_source(self, workers: int) -> FeatureBatches:
        """Features of every readable image; files that fail to load are left out."""
        cfg = self.train_cfg
        parts = []
        for phase in ("train", "val"):
            dataset, failed = self.datasets[phase], []
            feats = extract_features(self.model, dataset, cfg.batch_size, self.device,
                                     self.dtype, self.callbacks, self.cancel,
                                     f"features ({phase})", workers, failed)
            self._unreadable(phase, failed)
            keep = sorted(set(range(len(dataset))) - set(failed))
            parts += [feats[keep], _labels([dataset.samples[i] for i in keep])]
        return FeatureBatches(*parts, cfg.batch_size, cfg.seed, self.device)

    def _make_scheduler(self) -> None:
        epochs = self.train_cfg.epochs or 1
        self.scheduler = make_scheduler(self.optimizer, self.train_cfg.schedule,
                                        epochs * self.source.steps_per_epoch)
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
            message = f"{type(exc).__name__}: {exc}"
            result = self._finish("failed", message, traceback.format_exc())
            raise TrainingFailed(f"training failed: {result.message}") from exc
        return self._finish(status, "")

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
                    "info", f"early stopping: no improvement for {cfg.early_stopping} epochs"))
                return "early-stopped"
            self._epoch(state.epoch + 1, epochs)
        return "completed"

    def _epoch(self, epoch: int, epochs: int) -> None:
        # Everything random in an epoch (order, augmentation, dropout, DataLoader worker seeds)
        # follows from this seed, so a resumed run repeats an interrupted epoch exactly.
        torch.manual_seed(self.train_cfg.seed * 1_000_003 + epoch)
        t0 = time.perf_counter()
        train_loss, train_acc, ips = self._train_epoch(epoch)
        val_loss, val_acc = self._validate()
        row = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
               "val_loss": val_loss, "val_acc": val_acc, "lr": self._lr(),
               "images_per_s": ips, "seconds": time.perf_counter() - t0}
        is_best = self.record.epoch_done(row, self._checkpoint)
        emit(self.callbacks, EpochEnded(
            epoch=epoch, epochs=epochs, train_loss=train_loss, train_acc=train_acc,
            val_loss=val_loss, val_acc=val_acc, lr=row["lr"], images_per_s=ips,
            seconds=time.perf_counter() - t0, is_best=is_best,
        ))

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[-1]["lr"])

    def _train_epoch(self, epoch: int) -> tuple[float, float, float]:
        train_mode(self.model)
        steps = self.source.steps_per_epoch
        loss_sum = correct = seen = 0.0
        t0 = time.perf_counter()
        for batch, (x, y) in enumerate(self.source.train_epoch(epoch), start=1):
            check(self.cancel)
            x, y = self._readable("train", x, y)
            if not len(y):
                continue
            loss, logits = self._step(x, y)
            loss_value = float(loss)
            loss_sum += loss_value * len(y)
            correct += float((logits.argmax(1) == y).sum())
            seen += len(y)
            self.record.state.step += 1
            ips = seen / max(time.perf_counter() - t0, 1e-9)
            emit(self.callbacks, BatchEnded(epoch, batch, steps, self.record.state.step,
                                            loss_value, self._lr(), ips))
        elapsed = max(time.perf_counter() - t0, 1e-9)
        return loss_sum / max(seen, 1), correct / max(seen, 1), seen / elapsed

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with autocast(self.device, self.dtype):
            logits = self.source.forward(self.model, x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.train_cfg.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.detach(), logits.detach()

    @torch.no_grad()
    def _validate(self) -> tuple[float | None, float | None]:
        self.model.eval()
        loss_sum = correct = seen = 0.0
        for x, y in self.source.val_batches():
            check(self.cancel)
            x, y = self._readable("val", x, y)
            if not len(y):
                continue
            with autocast(self.device, self.dtype):
                logits = self.source.forward(self.model, x)
            loss_sum += float(F.cross_entropy(logits.float(), y, reduction="sum"))
            correct += float((logits.argmax(1) == y).sum())
            seen += len(y)
        if not seen:
            return None, None
        return loss_sum / seen, correct / seen

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
        for index in indices:
            path = self.datasets[phase].samples[index].path
            reason = why_unusable(path) or "could not be read (it may have been changing)"
            if self.record.unreadable(path, reason):
                emit(self.callbacks, Message("warning", f"{path}: {reason}; left out of "
                                                        "training"))

    # --- keeping results --------------------------------------------------------------------

    def _checkpoint(self) -> dict[str, Any]:
        keep = {n for n, p in self.model.named_parameters() if p.requires_grad}
        keep |= {n for n, _ in self.model.named_buffers()}
        model_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
                       if k in keep}
        return {"model": model_state, "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict()}

    def _finish(self, status: str, message: str, details: str = "") -> FitResult:
        result = self.record.finish(status, message, details)
        state = self.record.state
        emit(self.callbacks, FitEnded(status, state.epoch, result.best_epoch,
                                      result.best_val_acc, result.best_val_loss, result.seconds,
                                      str(self.out), result.message))
        return result


def _labels(samples: list[Sample]) -> torch.Tensor:
    return torch.tensor([s.label for s in samples], dtype=torch.long)
