"""What a training run keeps on disk while it runs: `run.json`, the best weights, the checkpoint.

The order of writes at the end of an epoch (best weights, then checkpoint, then `run.json`, each
atomic) means a run killed at any moment resumes to the same result: the checkpoint's state is
the truth, and anything written after it is written again when the epoch is repeated.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bundle
from .layers import count_params

if TYPE_CHECKING:
    from .backbones import TransferNet
    from .prepare import Prepared


class TrainingFailed(RuntimeError):
    """Training stopped on an error. The message says what happened and where the last good
    model is; the original exception is `__cause__` and `run.json` keeps its traceback."""


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
class RunState:
    """Progress that a checkpoint carries."""

    epoch: int = 0  # epochs finished
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_epoch: int | None = None
    best_acc: float | None = None
    best_loss: float | None = None
    bad_epochs: int = 0
    saved_best: bool = False


class RunRecord:
    """The run folder of one training run, kept up to date as epochs finish."""

    def __init__(self, out: Path, model: TransferNet, device: str) -> None:
        self.out, self.model, self.device = out, model, device
        self.state = RunState()
        self.meta: dict[str, Any] = {}
        self.problems: dict[str, str] = {}  # files that failed to load during training
        self._started = time.perf_counter()
        self._before = 0.0  # seconds spent before a resume

    def write_start(self, prep: Prepared) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        bundle.save_split(self.out, prep.config.data.root, prep.train, prep.val)
        trainable, total = count_params(self.model)
        self.meta = {
            "app": "transfer_gui", "backbone": prep.config.model.backbone,
            "classes": prep.classes, "preprocess": prep.preprocess.to_dict(),
            "config": prep.config.to_dict(), "trainable": list(prep.selectors),
            "params": {"trainable": trainable, "total": total}, "device": self.device,
            "split": {"train": len(prep.train), "val": len(prep.val)},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "status": "running", "history": [],
            "epochs_done": 0,
        }
        bundle.save_meta(self.out, self.meta)

    def resume(self) -> None:
        meta = bundle.read_meta(self.out)
        self.meta = {**meta, "status": "running", "device": self.device,
                     "resumed": int(meta.get("resumed") or 0) + 1}
        self._before = float(meta.get("seconds") or 0.0)
        rows = meta.get("unreadable") if isinstance(meta.get("unreadable"), list) else []
        self.problems = {str(r["path"]): str(r["reason"]) for r in rows if isinstance(r, dict)}

    def restore_state(self, saved: dict[str, Any]) -> None:
        known = {f.name for f in dataclasses.fields(RunState)}
        self.state = RunState(**{k: v for k, v in saved.items() if k in known})
        self.state.saved_best = (self.out / bundle.WEIGHTS).is_file()

    def clock(self, started: float) -> None:
        self._started = started

    def unreadable(self, path: str, reason: str) -> bool:
        """Note a file that failed during training; True the first time it is seen."""
        if path in self.problems:
            return False
        self.problems[path] = reason
        return True

    def epoch_done(self, row: dict[str, Any], checkpoint: Callable[[], dict[str, Any]]) -> bool:
        """Record a finished epoch: best weights, checkpoint, run.json. True if it is the best."""
        state = self.state
        state.epoch = row["epoch"]
        state.history.append(row)
        is_best = _better(row["val_acc"], row["val_loss"], state.best_acc, state.best_loss)
        if is_best and self._probe_is_best() and row["val_acc"] is not None:
            is_best = row["val_acc"] > (state.best_acc or 0.0)  # beat the probe's accuracy
        if is_best:
            state.best_epoch, state.best_acc, state.best_loss = (
                row["epoch"], row["val_acc"], row["val_loss"])
            state.bad_epochs = 0
            bundle.save_weights(self.out, self.model)
            state.saved_best = True
        else:
            state.bad_epochs += 1
        bundle.save_checkpoint(self.out, {**checkpoint(), "state": dataclasses.asdict(state)})
        self._save_meta("running", "")
        return is_best

    def _probe_is_best(self) -> bool:
        best = self.state.best_epoch
        return best is not None and self.state.history[best - 1].get("stage") == "probe"

    def where(self) -> str:
        """Where the last good model is, in words."""
        path = self.out / bundle.WEIGHTS
        state = self.state
        if state.best_epoch is None:
            return f"no epoch finished; {path} holds the weights as they were when it stopped"
        acc = f", val acc {state.best_acc:.1%}" if state.best_acc is not None else ""
        return f"the last good model is {path} (epoch {state.best_epoch}{acc})"

    def finish(self, status: str, message: str, details: str = "") -> FitResult:
        """Save what there is and the final status; never raises for a failed write."""
        try:
            if not self.state.saved_best and self.out.is_dir():
                bundle.save_weights(self.out, self.model)  # a loadable model even so
                self.state.saved_best = True
        except Exception as exc:  # noqa: BLE001 - the report must still be written
            message += f" (the model could not be saved: {exc})"
        if status in ("cancelled", "failed"):
            message = f"{message}; {self.where()}"
        try:
            self._save_meta(status, message, details)
        except Exception as exc:  # noqa: BLE001 - the caller must still hear how it ended
            message += f" ({bundle.META} could not be written: {exc})"
        state = self.state
        return FitResult(status, str(self.out), list(state.history), state.best_epoch,
                         state.best_acc, state.best_loss, self._seconds(), message)

    def _seconds(self) -> float:
        return time.perf_counter() - self._started

    def _save_meta(self, status: str, message: str, details: str = "") -> None:
        state = self.state
        self.meta.update(
            status=status, message=message, history=state.history, epochs_done=state.epoch,
            best={"epoch": state.best_epoch, "val_acc": state.best_acc,
                  "val_loss": state.best_loss},
            seconds=self._before + self._seconds(),
            unreadable=[{"path": p, "reason": r} for p, r in self.problems.items()],
        )
        if details:
            self.meta["traceback"] = details
        else:
            self.meta.pop("traceback", None)
        bundle.save_meta(self.out, self.meta)


def _better(acc: float | None, loss: float | None, best_acc: float | None,
            best_loss: float | None) -> bool:
    if acc is None or best_acc is None:
        return True  # no validation set: the latest epoch is the one to keep
    if acc != best_acc:
        return acc > best_acc
    return loss is not None and best_loss is not None and loss < best_loss
