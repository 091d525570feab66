"""What a training run keeps on disk while it runs: `run.json`, the best weights, the checkpoint.

The record says only what is on disk. At the end of an epoch the checkpoint is written, then the
best weights, then `run.json`, each atomically and flushed to disk before the next: `run.json`
and the messages name a model only once its file is durable, and a save that fails (a full
disk) leaves them naming the last model really saved. A run killed or failed between the
checkpoint and the weights resumes from that checkpoint, whose weights are the missing best
model: resuming writes them first.

`Recording` is the record as a hook of the loop: it restores a checkpoint, announces the run,
records every epoch and closes the record (and says how the run ended) whatever the ending.
Which epoch is the best is not the record's choice: the best-epoch rule (`best`) makes it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UserError
from ..events import EpochEnded, FitEnded, FitStarted
from ..io import bundle
from ..io.diskspace import estimate, require_space, same_disk, tensor_bytes, why_not_saved
from ..io.eventlog import EventLog
from ..io.steplog import StepLog
from ..models.layers import count_params
from .hooks import FitState, Hook, RunState
from .prepare import on_features
from .recipe import restore_schedule

if TYPE_CHECKING:
    from ..models.backbones import TransferNet
    from .prepare import Prepared


@dataclass(frozen=True)
class SavedModel:
    """The weights file of a run as it is on disk, and the epoch it holds (None: the weights as
    they were when a run stopped before any epoch ended)."""

    path: str
    epoch: int | None
    val_acc: float | None = None
    val_loss: float | None = None

    def describe(self) -> str:
        if self.epoch is None:
            return f"no epoch finished; {self.path} holds the weights as they were when it stopped"
        acc = f", val acc {self.val_acc:.1%}" if self.val_acc is not None else ""
        return f"the last good model is {self.path} (epoch {self.epoch}{acc})"


class TrainingFailed(UserError, RuntimeError):
    """Training stopped on an error. The message says what happened and where the last good
    model is; `saved` is that model (None: none was saved) for a window to act on. The original
    exception is `__cause__` and `run.json` keeps its traceback."""

    def __init__(self, message: str, saved: SavedModel | None = None) -> None:
        super().__init__(message)
        self.saved = saved


class SaveFailed(UserError, RuntimeError):
    """An epoch's checkpoint or weights could not be written; the message says why."""


def failure_text(exc: BaseException) -> str:
    """An error that stopped a run, in words (the app's own save errors need no type name)."""
    return str(exc) if isinstance(exc, SaveFailed) else f"{type(exc).__name__}: {exc}"


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
    saved: SavedModel | None = None


class RunRecord:
    """The run folder of one training run, kept up to date as epochs finish."""

    def __init__(self, out: Path, model: TransferNet, device: str,
                 events: EventLog | None = None) -> None:
        self.out, self.model, self.device = out, model, device
        self.state = RunState()
        self.meta: dict[str, Any] = {}
        self.problems: dict[str, str] = {}  # files that failed to load during training
        self.saved: SavedModel | None = None  # what the weights file holds, once it is durable
        self.checkpoint_epoch = 0  # the epoch the checkpoint on disk holds
        self._started = time.perf_counter()
        self._before = 0.0  # seconds spent before a resume
        self.steps = StepLog(out)  # a callback: the loop sends it every step
        self.events = events or EventLog(out)  # a callback too: every event, as it happens

    def write_start(self, prep: Prepared) -> None:
        """Refuse a run its disk cannot hold (nothing is written then), else write its start."""
        self._require_space(prep.config.train.optimizer, len(prep.train) + len(prep.val),
                            self._feature_bytes(prep))
        self.out.mkdir(parents=True, exist_ok=True)
        bundle.save_split(self.out, prep.config.data.root, prep.train, prep.val)
        trainable, total = count_params(self.model)
        head = getattr(self.model, "head", None)  # a run that keeps its probe trains only it
        head_params = sum(p.numel() for p in head.parameters()) if head is not None else None
        self.meta = {
            "app": "transfer_gui", "backbone": prep.config.model.backbone,
            "classes": prep.classes, "preprocess": prep.preprocess.to_dict(),
            "config": prep.config.to_dict(), "trainable": list(prep.selectors),
            "params": {"trainable": trainable, "total": total, "head": head_params},
            "device": self.device,
            "split": {"train": len(prep.train), "val": len(prep.val)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "status": "running", "history": [],
            "epochs_done": 0,
        }
        if prep.tasks:
            self.meta["tasks"] = [t.to_dict() for t in prep.tasks]
        bundle.save_meta(self.out, self.meta)
        self.events.begin()

    def resume(self) -> None:
        meta = bundle.read_meta(self.out)
        train = meta.get("config", {}).get("train", {}) if isinstance(meta.get("config"),
                                                                       dict) else {}
        split = v if isinstance(v := meta.get("split"), dict) else {}
        self._require_space(str(train.get("optimizer", "adamw")),
                            sum(int(v) for v in split.values() if isinstance(v, int)), 0)
        self.meta = {**meta, "status": "running", "device": self.device,
                     "resumed": int(meta.get("resumed") or 0) + 1}
        self._before = float(meta.get("seconds") or 0.0)
        rows = v if isinstance(v := meta.get("unreadable"), list) else []
        self.problems = {str(r["path"]): str(r["reason"]) for r in rows if isinstance(r, dict)}
        self.events.begin()

    def restore_state(self, saved: dict[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(RunState)}
        self.state = RunState(**{k: v for k, v in saved.items() if k in known})
        self.checkpoint_epoch = self.state.epoch
        self.saved = self._on_disk()
        self.trim(self.state.epoch)

    def trim(self, epochs_done: int) -> None:
        """The step and event logs back to the epochs a resume starts after."""
        self.steps.trim(epochs_done)
        self.events.trim(epochs_done)

    def _on_disk(self) -> SavedModel | None:
        """The weights file as the checkpoint explains it. When the checkpoint names a best
        epoch whose weights were never written (the run stopped between the two writes), the
        model just restored from the checkpoint is that best model: it is written now."""
        state, path = self.state, self.out / bundle.WEIGHTS
        on_disk = bundle.saved_epoch(self.out)  # None also for older runs' files
        stale = not path.is_file() or on_disk not in (None, state.best_epoch)
        if state.best_epoch is not None and state.best_epoch == state.epoch and stale:
            return self._save_weights(state.history[-1] if state.history else
                                      {"epoch": state.best_epoch, "val_acc": state.best_acc,
                                       "val_loss": state.best_loss})
        if not path.is_file():
            return None
        if on_disk == 0:  # the weights of a run that stopped before its first epoch ended
            return SavedModel(str(path), None)
        epoch = on_disk if on_disk is not None else state.best_epoch
        row = next((r for r in state.history if r.get("epoch") == epoch), {})
        return SavedModel(str(path), epoch, row.get("val_acc"), row.get("val_loss"))

    def clock(self, started: float) -> None:
        self._started = started

    def unreadable(self, path: str, reason: str) -> bool:
        """Note a file that failed during training; True the first time it is seen."""
        if path in self.problems:
            return False
        self.problems[path] = reason
        return True

    def epoch_done(self, row: dict[str, Any], is_best: bool,
                   checkpoint: Callable[[], dict[str, Any]]) -> None:
        """Record a finished epoch (already the last of `state.history`, judged by the
        best-epoch rule, `best`): checkpoint, best weights, run.json, each durable before the
        next is written. Raises `SaveFailed` when a file cannot be written; the record then
        still names the last model saved."""
        self.steps.epoch_done(row["epoch"])  # before the checkpoint: see steplog
        data = {**checkpoint(), "state": dataclasses.asdict(self.state)}
        self._durably(row, "its checkpoint", tensor_bytes(data),
                      lambda: bundle.save_checkpoint(self.out, data))
        self.checkpoint_epoch = row["epoch"]
        if is_best:
            self.saved = self._save_weights(row)
        self._save_meta("running", "")

    def keep_model(self, row: dict[str, Any]) -> None:
        """Write the model as it is now as the run's model, the one of `row`'s epoch."""
        self.saved = self._save_weights(row)

    def _save_weights(self, row: dict[str, Any]) -> SavedModel:
        self._durably(row, "the model", tensor_bytes(self.model.state_dict()),
                      lambda: bundle.save_weights(self.out, self.model, row["epoch"],
                                                  row.get("val_acc")))
        return SavedModel(str(self.out / bundle.WEIGHTS), row["epoch"], row.get("val_acc"),
                          row.get("val_loss"))

    def _durably(self, row: dict[str, Any], what: str, size: int,
                 write: Callable[[], None]) -> None:
        try:
            write()
        except Exception as exc:  # torch.save reports a full disk as a RuntimeError
            acc = row.get("val_acc")
            figure = f" (val acc {acc:.1%})" if acc is not None else ""
            raise SaveFailed(f"epoch {row['epoch']}{figure} was not saved: "
                             f"{why_not_saved(exc, self.out, size, what)}") from exc

    def _require_space(self, optimizer: str, images: int, cache_bytes: int) -> None:
        # each file list entry is a relative path and a label, twice (split.json, run.json)
        require_space(self.out, estimate(self.model, optimizer, images * 400 + cache_bytes))

    def _feature_bytes(self, prep: Prepared) -> int:
        """The feature cache's share of the run folder's disk (features are cached when the
        backbone is frozen and nothing is augmented)."""
        from ..io.featurestore import cache_root

        if not on_features(prep):
            return 0
        if not same_disk(cache_root(), self.out):
            return 0  # the cache's own disk running full costs the cache, never the run
        dim = int(getattr(self.model, "feature_dim", 0))
        return (len(prep.train) + len(prep.val)) * (dim * 4 + 80)

    def where(self) -> str:
        """Where the last good model is, in words."""
        return self.saved.describe() if self.saved is not None else "no model was saved"

    def finish(self, status: str, message: str, details: str = "") -> FitResult:
        """Save what there is and the final status; never raises for a failed write."""
        try:
            if self.saved is None and self.state.epoch == 0 and self.out.is_dir():
                bundle.save_weights(self.out, self.model, epoch=0)  # a loadable model even so
                self.saved = SavedModel(str(self.out / bundle.WEIGHTS), None)
        except Exception as exc:  # noqa: BLE001 - the report must still be written
            message += f" (the model could not be saved: {exc})"
        if status in ("cancelled", "failed"):
            message = f"{message}; {self.where()}"
        try:
            self._save_meta(status, message, details)
        except Exception as exc:  # noqa: BLE001 - the caller must still hear how it ended
            message += f" ({bundle.META} could not be written: {exc})"
        saved = self.saved or SavedModel("", None)
        return FitResult(status, str(self.out), list(self.state.history), saved.epoch,
                         saved.val_acc, saved.val_loss, self._seconds(), message, self.saved)

    def _seconds(self) -> float:
        """The whole run's training time: a resumed run adds the time before its stop."""
        return self._before + time.perf_counter() - self._started

    def _save_meta(self, status: str, message: str, details: str = "") -> None:
        state, saved = self.state, self.saved or SavedModel("", None)
        self.meta.update(
            status=status, message=message, history=state.history, epochs_done=state.epoch,
            best={"epoch": saved.epoch, "val_acc": saved.val_acc, "val_loss": saved.val_loss},
            checkpoint_epoch=self.checkpoint_epoch,
            seconds=self._seconds(),
            unreadable=[{"path": p, "reason": r} for p, r in self.problems.items()],
        )
        if details:
            self.meta["traceback"] = details
        else:
            self.meta.pop("traceback", None)
        bundle.save_meta(self.out, self.meta)


class Recording(Hook):
    """The run folder and the run's events, as a hook. `parts`: the hooks whose state the
    checkpoint carries besides the model's, the optimizer's and the schedule's. It restores the
    optimizer and schedule once the stages have built the schedule, and keeps each epoch once
    its row is complete and judged (`best.BestEpoch`)."""

    name = "record"
    reads = frozenset({"source", "trainable", "model", "row", "best", "stop", "message",
                       "notes", "started"})
    writes = frozenset({"optimizer", "scheduler", "result"})
    after = ("pairing", "stages", "probe", "classic", "best")

    def __init__(self, record: RunRecord, parts: Hook | None = None) -> None:
        self.record, self.parts = record, parts or Hook()
        self.pending: dict[str, Any] | None = None  # optimizer state waiting for its schedule
        self.keep: set[str] = set()

    def start(self, fit: FitState) -> None:
        self.record.write_start(fit.prep)
        self._share(fit)

    def restore(self, fit: FitState, checkpoint: dict[str, Any] | None) -> None:
        """Continue from `checkpoint`. The model is restored now; the optimizer and scheduler
        once the scheduler exists (building a scheduler rewrites the optimizer's rates)."""
        record = self.record
        record.resume()
        self._share(fit)
        if checkpoint is None:
            fit.task.message("info", "no finished epoch to resume from: starting again from "
                                     "epoch 1")
            record.trim(0)
            return
        missing, unexpected = fit.model.load_state_dict(checkpoint["model"], strict=False)
        frozen = {n for n, p in fit.model.named_parameters() if not p.requires_grad}
        if unexpected or set(missing) - frozen:
            raise bundle.RunError(f"the checkpoint in {record.out} does not match this model")
        self.pending = checkpoint
        record.restore_state(checkpoint["state"])
        self._share(fit)
        self.parts.load_state_dict(checkpoint)

    def _share(self, fit: FitState) -> None:
        fit.run, fit.problems = self.record.state, self.record.problems

    def on_fit_start(self, fit: FitState) -> None:
        model = fit.model
        self.keep = {n for n, p in model.named_parameters() if p.requires_grad}  # every stage's
        self.keep |= {n for n, _ in model.named_buffers()}
        pending, self.pending = self.pending, None
        if pending is not None and fit.optimizer is not None:
            fit.optimizer.load_state_dict(pending["optimizer"])
            _restore_schedule(fit, pending["scheduler"])
            if fit.scaler is not None and fit.scaler.is_enabled() and pending.get("scaler"):
                fit.scaler.load_state_dict(pending["scaler"])
        fit.task.emit(fit.started or self._started(fit))

    def _started(self, fit: FitState) -> FitStarted:
        trainable, total = count_params(fit.model)
        return FitStarted(
            epochs=fit.epochs, steps_per_epoch=fit.batch_source.steps_per_epoch,
            train_size=len(fit.prep.train), val_size=len(fit.prep.val),
            device=self.record.device, trainable_params=trainable, total_params=total,
            start_epoch=fit.run.epoch, feature_cache=fit.use_features)

    def on_epoch_end(self, fit: FitState) -> None:
        row = fit.row
        assert row is not None
        self.record.meta.update(fit.notes)
        self.record.epoch_done(row, fit.is_best, lambda: self._checkpoint(fit))
        fit.task.emit(EpochEnded(
            epoch=fit.epoch, epochs=fit.epochs, train_loss=row["train_loss"],
            train_acc=row["train_acc"], val_loss=row["val_loss"], val_acc=row["val_acc"],
            lr=row["lr"], images_per_s=row["images_per_s"],
            seconds=time.perf_counter() - fit.epoch_started, is_best=fit.is_best,
            target_acc=row.get("target_acc"), task_acc=row.get("task_acc")))

    def _checkpoint(self, fit: FitState) -> dict[str, Any]:
        if fit.optimizer is None:  # a classic head: nothing to resume
            return {"model": {}, "optimizer": {}, "scheduler": {}}
        model_state = {k: v.detach().cpu().clone() for k, v in fit.model.state_dict().items()
                       if k in self.keep}
        return {"model": model_state, "optimizer": fit.optimizer.state_dict(),
                "scheduler": fit.schedule.state_dict(),
                "scaler": fit.scaler.state_dict() if fit.scaler is not None else {},
                **self.parts.state_dict()}

    def on_fit_end(self, fit: FitState) -> None:
        """Close the record with the run's ending and say how it ended (never raises for a
        failed write)."""
        self.record.meta.update(fit.notes)
        result = self.record.finish(fit.stop, fit.message, fit.details)
        fit.result = result
        note = fit.notes.get("adaptation", {})  # the statistics step's figure ends the curve
        adapted = note.get("target_acc_after") if note.get("statistics") else None
        fit.task.emit(FitEnded(fit.stop, self.record.state.epoch, result.best_epoch,
                               result.best_val_acc, result.best_val_loss, result.seconds,
                               str(self.record.out), result.message, adapted))

    on_fit_failed = on_fit_end


def _restore_schedule(fit: FitState, state: dict[str, Any]) -> None:
    assert fit.optimizer is not None  # the loop makes it before resuming
    steps = restore_schedule(fit.schedule, fit.optimizer, state,
                             fit.run.epoch * fit.batch_source.steps_per_epoch)
    if steps is not None:
        fit.task.message("info", "the checkpoint's learning-rate schedule is from an older "
                                 f"release: rebuilt at step {steps}")
