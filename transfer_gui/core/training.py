"""Training: `Trainer().fit(config, out_dir, callbacks, cancel)`.

The call is synchronous and thread-agnostic: a GUI runs it in a worker thread, the CLI and the
tests call it directly. Progress goes to callbacks as small events; the cancel token is checked
between batches. Every finished epoch is checkpointed (so a stopped or killed run can resume),
the best weights are kept in the run folder, and a cancelled or failed run keeps them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import bundle
from .autobatch import settle_batch_size
from .backbones import TransferNet, get_spec
from .config import RunConfig
from .data import FolderScan, Sample, require_trainable, scan_folder, training_split
from .datasets import Preprocess
from .events import (
    Cancelled,
    CancelToken,
    EpochEnded,
    FitEnded,
    FitStarted,
    Message,
    check,
    emit,
)
from .layers import (
    Group,
    body_frozen,
    count_params,
    layer_groups,
    preset,
    set_trainable,
    train_mode,
)
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
from .sources import build_source
from .steps import EpochMeter, Stepper, evaluate_batches
from .weights import build_model

__all__ = ["FitResult", "Prepared", "Trainer", "prepare", "resume_config"]


@dataclass
class FitResult:
    status: str
    run_dir: str
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_val_acc: float | None
    best_val_loss: float | None
    seconds: float
    message: str = ""


@dataclass
class Prepared:
    """A run ready to train: data split, model built and frozen as configured."""

    config: RunConfig
    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    model: TransferNet
    groups: list[Group]
    preprocess: Preprocess
    selectors: tuple[str, ...]
    scan: FolderScan | None = None


def prepare(
    config: RunConfig,
    callbacks: Iterable = (),
    cancel: CancelToken | None = None,
    split: tuple[list[Sample], list[Sample], list[str]] | None = None,
) -> Prepared:
    """Scan and split the data (unless `split` is given), build and freeze the model."""
    callbacks = list(callbacks)
    config = config.resolved()
    spec = get_spec(config.model.backbone)
    pre = Preprocess.for_backbone(spec, config.train.image_size)
    scan = None
    if split is None:
        scan = scan_folder(config.data.root, verify=True, val_dir=config.data.val_dir,
                           callbacks=callbacks, cancel=cancel)
        require_trainable(scan)
        _report_problems(scan, callbacks)
        train, val = training_split(scan, config.data.val_split, config.data.seed)
        classes = scan.classes
    else:
        train, val, classes = split
    torch.manual_seed(config.train.seed)
    model = build_model(spec, len(classes), config.model.pretrained,
                        config.model.weights_file, callbacks, cancel)
    groups = layer_groups(spec)
    selectors = config.model.trainable or preset(config.model.strategy, groups,
                                                 config.model.unfreeze)
    set_trainable(model, groups, selectors)
    return Prepared(config, list(classes), train, val, model, groups, pre, tuple(selectors), scan)


def _report_problems(scan: FolderScan, callbacks: list) -> None:
    errors = [p for p in scan.problems if p.severity == "error"]
    if errors:
        emit(callbacks, Message("warning", f"{len(errors)} files skipped, e.g. "
                                           f"{errors[0].path}: {errors[0].reason}"))
    emit(callbacks, Message("info", f"data: {scan.summary()}"))


def resume_config(run_dir: str | Path) -> RunConfig:
    """The configuration a run folder was started with."""
    return RunConfig.from_dict(bundle.read_meta(run_dir).get("config"))


@dataclass
class _State:
    epoch: int = 0  # epochs finished
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_acc: float | None = None
    best_loss: float | None = None
    bad_epochs: int = 0
    saved_best: bool = False


class Trainer:
    """Runs one training configuration to completion, cancellation or failure."""

    def fit(
        self,
        config: RunConfig,
        out_dir: str | Path,
        callbacks: Iterable = (),
        cancel: CancelToken | None = None,
        resume: bool = False,
    ) -> FitResult:
        callbacks = list(callbacks)
        out = Path(out_dir)
        started = time.perf_counter()
        checkpoint = bundle.load_checkpoint(out) if resume else None
        if not resume and (out / bundle.META).exists():
            raise bundle.RunError(f"{out} already holds a run: resume it or choose a new folder")
        config = config.resolved()
        prep = prepare(config, callbacks, cancel, _saved_split(out) if resume else None)
        device = pick_device(config.train.device)
        if not resume:  # a resumed run keeps the batch size it was started with
            prep = settle_batch_size(prep, device, amp_dtype(device, config.train.mixed_precision),
                                     channels_last_for(device), callbacks)
        run = _Run(prep, out, device, callbacks, cancel)
        if checkpoint is None:
            run.write_start()
        else:
            run.restore(checkpoint)
        return run.loop(started)


def _saved_split(out: Path) -> tuple[list[Sample], list[Sample], list[str]]:
    meta = bundle.read_meta(out)
    train, val = bundle.load_split(out)
    return train, val, list(meta["classes"])


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
        self.state = _State()
        self.meta = self._base_meta()
        self.use_features = (self.train_cfg.cache_features and self.train_cfg.augment == "none"
                             and body_frozen(self.model))
        self.source: Any = None
        ratio = lr_ratio_for(prep.config.model.strategy, prep.config.model.lr_ratio)
        self.optimizer = make_optimizer(self.model, prep.groups, self.train_cfg, ratio)
        self.scaler = torch.amp.GradScaler(enabled=self.dtype == torch.float16)
        self.scheduler: Any = None
        self.stepper: Stepper | None = None

    # --- setting up -------------------------------------------------------------------------

    def _base_meta(self) -> dict[str, Any]:
        prep = self.prep
        trainable, total = count_params(self.model)
        return {
            "app": "transfer_gui",
            "backbone": prep.config.model.backbone,
            "classes": prep.classes,
            "preprocess": prep.preprocess.to_dict(),
            "config": prep.config.to_dict(),
            "trainable": list(prep.selectors),
            "params": {"trainable": trainable, "total": total},
            "device": device_label(self.device),
            "split": {"train": len(prep.train), "val": len(prep.val)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "status": "running",
            "history": [],
        }

    def write_start(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        bundle.save_split(self.out, self.prep.config.data.root, self.prep.train, self.prep.val)
        bundle.save_meta(self.out, self.meta)

    def restore(self, checkpoint: dict[str, Any]) -> None:
        self.meta = {**bundle.read_meta(self.out), "status": "running"}
        self.meta["seconds_before"] = self.meta.get("seconds", 0.0)
        missing, unexpected = self.model.load_state_dict(checkpoint["model"], strict=False)
        frozen = {n for n, p in self.model.named_parameters() if not p.requires_grad}
        if unexpected or set(missing) - frozen:
            raise bundle.RunError(f"the checkpoint in {self.out} does not match this model")
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self._pending_scheduler = checkpoint["scheduler"]
        if self.scaler.is_enabled() and checkpoint.get("scaler"):
            self.scaler.load_state_dict(checkpoint["scaler"])
        state = checkpoint["state"]
        self.state = _State(**{k: v for k, v in state.items() if k in _State.__annotations__})
        self.state.saved_best = (self.out / bundle.WEIGHTS).is_file()

    def _make_source(self) -> None:
        cfg = self.train_cfg
        self.source = build_source(self.prep, self.device, self.dtype, self.channels_last,
                                   self.use_features, self.callbacks, self.cancel)
        if not self.use_features and maybe_compile(self.model, cfg.compile):
            emit(self.callbacks, Message("info", "torch.compile: the first steps compile"))
        epochs = cfg.epochs or 1
        self.scheduler = make_scheduler(self.optimizer, cfg.schedule,
                                        epochs * self.source.steps_per_epoch)
        pending = getattr(self, "_pending_scheduler", None)
        if pending is not None:
            self.scheduler.load_state_dict(pending)
        self.stepper = Stepper(self.model, self.source.forward, self.optimizer, self.scaler,
                               self.scheduler, self.device, self.dtype, cfg.label_smoothing,
                               self.callbacks)

    # --- the loop ---------------------------------------------------------------------------

    def loop(self, started: float) -> FitResult:
        status, message = "completed", ""
        try:
            self._make_source()
            self._emit_start()
            status = self._epochs()
        except Cancelled:
            status, message = "cancelled", "stopped by the user"
        except Exception as exc:
            status, message = "failed", f"{type(exc).__name__}: {exc}"
            self._finish(status, message, started)
            raise
        return self._finish(status, message, started)

    def _emit_start(self) -> None:
        trainable, total = count_params(self.model)
        emit(self.callbacks, FitStarted(
            epochs=self.train_cfg.epochs or 1, steps_per_epoch=self.source.steps_per_epoch,
            train_size=len(self.prep.train), val_size=len(self.prep.val),
            device=device_label(self.device), trainable_params=trainable, total_params=total,
            start_epoch=self.state.epoch, feature_cache=self.use_features,
        ))

    def _epochs(self) -> str:
        cfg = self.train_cfg
        epochs = cfg.epochs or 1
        while self.state.epoch < epochs:
            epoch = self.state.epoch + 1
            torch.manual_seed(cfg.seed * 1_000_003 + epoch)  # augmentation and dropout
            t0 = time.perf_counter()
            train_loss, train_acc, ips = self._train_epoch(epoch)
            val_loss, val_acc = self._validate()
            is_best = self._record(epoch, train_loss, train_acc, val_loss, val_acc, ips,
                                   time.perf_counter() - t0)
            emit(self.callbacks, EpochEnded(
                epoch=epoch, epochs=epochs, train_loss=train_loss, train_acc=train_acc,
                val_loss=val_loss, val_acc=val_acc, lr=self._lr(), images_per_s=ips,
                seconds=time.perf_counter() - t0, is_best=is_best,
            ))
            if cfg.early_stopping and self.state.bad_epochs >= cfg.early_stopping:
                emit(self.callbacks, Message(
                    "info", f"early stopping: no improvement for {cfg.early_stopping} epochs"))
                return "early-stopped"
        return "completed"

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[-1]["lr"])

    def _train_epoch(self, epoch: int) -> tuple[float, float, float]:
        train_mode(self.model)
        assert self.stepper is not None
        lag = 1 if self.device.type == "cuda" else 0  # read each loss one step late: no sync
        meter = EpochMeter(self.callbacks, epoch, self.source.steps_per_epoch, lag)
        for x, y in self.source.train_epoch(epoch):
            check(self.cancel)
            stats = self.stepper.train(x, y)
            self.state.step += 1
            meter.add(self.state.step, stats, len(y), self._lr())
        return meter.finish()

    def _validate(self) -> tuple[float | None, float | None]:
        self.model.eval()
        assert self.stepper is not None
        return evaluate_batches(self.stepper, self.source.val_batches(),
                                lambda: check(self.cancel))

    # --- keeping results --------------------------------------------------------------------

    def _record(self, epoch: int, train_loss: float, train_acc: float, val_loss: float | None,
                val_acc: float | None, ips: float, seconds: float) -> bool:
        state = self.state
        state.epoch = epoch
        state.history.append({
            "epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_acc": val_acc, "lr": self._lr(),
            "images_per_s": ips, "seconds": seconds,
        })
        is_best = _better(val_acc, val_loss, state.best_acc, state.best_loss)
        if is_best:
            state.best_epoch, state.best_acc, state.best_loss = epoch, val_acc, val_loss
            state.bad_epochs = 0
            bundle.save_weights(self.out, self.model)
            state.saved_best = True
        else:
            state.bad_epochs += 1
        self._save_checkpoint()
        self._save_meta("running")
        return is_best

    def _save_checkpoint(self) -> None:
        keep = {n for n, p in self.model.named_parameters() if p.requires_grad}
        keep |= {n for n, _ in self.model.named_buffers()}
        model_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
                       if k in keep}
        bundle.save_checkpoint(self.out, {
            "model": model_state,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": dataclasses.asdict(self.state),
        })

    def _save_meta(self, status: str, message: str = "", seconds: float | None = None) -> None:
        state = self.state
        self.meta.update(
            status=status, message=message, history=state.history, epochs_done=state.epoch,
            best={"epoch": state.best_epoch, "val_acc": state.best_acc,
                  "val_loss": state.best_loss},
        )
        if seconds is not None:
            self.meta["seconds"] = self.meta.get("seconds_before", 0.0) + seconds
        bundle.save_meta(self.out, self.meta)

    def _finish(self, status: str, message: str, started: float) -> FitResult:
        seconds = time.perf_counter() - started
        if not self.state.saved_best and self.out.is_dir():
            bundle.save_weights(self.out, self.model)  # a loadable model even before epoch 1
            self.state.saved_best = True
        self._save_meta(status, message, seconds)
        result = FitResult(status, str(self.out), list(self.state.history), self.state.best_epoch,
                           self.state.best_acc, self.state.best_loss, seconds, message)
        emit(self.callbacks, FitEnded(status, self.state.epoch, result.best_epoch,
                                      result.best_val_acc, result.best_val_loss, seconds,
                                      str(self.out), message))
        return result


def _better(acc: float | None, loss: float | None, best_acc: float | None,
            best_loss: float | None) -> bool:
    if acc is None or best_acc is None:
        return True  # no validation set: the latest epoch is the one to keep
    if acc != best_acc:
        return acc > best_acc
    return loss is not None and best_loss is not None and loss < best_loss
